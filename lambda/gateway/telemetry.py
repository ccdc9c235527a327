"""Structured logs and CloudWatch EMF metrics, one record per request.

* Logs: Powertools :class:`Logger` (JSON lines on stdout).  Exactly one
  ``"request"`` line per request with alias, model id, status, the number of tool calls
  the model made, tokens (with
  ``input_tokens_source``/``output_tokens_source``: ``reported``, ``counted``
  or ``estimated``, see :mod:`backend`), ttft/latency and error type; for
  aliases with retrieval also ``retrieval_ms`` and ``retrieval_results`` (the
  number of passages).  Prompt/completion text and the retrieved citations are
  included only when the configuration sets ``logContent``.
* Metrics: EMF documents built with Powertools ``EphemeralMetrics`` (one
  instance per request, so request threads never share state), dimension
  ``ModelAlias``: Requests, Errors, Throttles, ModelConfigErrors (the
  deployment cannot use its model: ``errors.DEPLOYMENT_ERROR_CODES``),
  InputTokens, OutputTokens (reported or counted tokens only),
  EstimatedInputTokens and EstimatedOutputTokens (estimated tokens, emitted
  only when there are some),
  Latency (ms), for streams TimeToFirstToken (ms), and for aliases with
  retrieval RetrievalLatency (ms) and RetrievalResults, for aliases with a
  guardrail GuardrailIntervened (1 when the guardrail blocked the prompt or
  answer), CacheReadInputTokens and CacheWriteInputTokens when the model
  reported prompt-cache tokens.  Errors are also emitted with an extra
  ``ErrorType`` dimension; each fallback (see :mod:`fallback`) as
  ``Fallback`` with an extra ``FallbackReason`` dimension.
  With governance, one more document has the dimension ``Team`` (bounded
  cardinality: teams, never users): TeamRequests, TeamInputTokens,
  TeamOutputTokens, TeamBudgetRejections and TeamEstimatedCost (USD, aliases
  with a price); the log line gains ``team``, ``caller`` (a hash, never the
  user) and ``cost_usd``.

All output shares one lock, so concurrent requests never interleave lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, TextIO

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from backend import ESTIMATED, Usage
from config import GatewayConfig
from errors import GatewayError

UNKNOWN_ALIAS = "unknown"


class _Handler(logging.StreamHandler):
    """A StreamHandler writing to a fixed stream, or to the *current* ``sys.stdout``."""

    def __init__(self, target: TextIO | None = None) -> None:
        self._target = target
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return self._target or sys.stdout

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns it; ignore.
        pass


class RequestRecord:
    """Facts gathered while serving one request; turned into a log line and metrics."""

    def __init__(self, request_id: str | None = None) -> None:
        self.start_ns = time.perf_counter_ns()
        self.request_id = request_id
        self.alias: str | None = None
        self.model_id: str | None = None
        self.stream = False
        self.status = 200
        self.error_type: str | None = None
        self.error_message: str | None = None
        self.deployment_problem = False
        self.stop_reason: str | None = None
        self.tool_calls = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.input_tokens_source: str | None = None
        self.output_tokens_source: str | None = None
        self.ttft_ms: float | None = None
        self.prompt: object = None
        self.completion: str | None = None
        self.retrieval_ms: float | None = None
        self.retrieval_results: int | None = None
        self.citations: list | None = None
        #: Governance: the caller's team (a metric dimension), the caller's hash (logs only) and the
        #: estimated cost in USD of the settled usage (aliases with a price).
        self.team: str | None = None
        self.caller: str | None = None
        self.cost_usd: float | None = None
        #: The :class:`identity.Caller` and the budget reservation of the request (governance only).
        self.principal: Any = None
        self.reservation: Any = None
        self.finished = False
        #: The alias has a Bedrock guardrail (GuardrailIntervened is emitted for it).
        self.guarded = False
        #: ``(alias, reason)`` of each alias that failed before the one that served (see :mod:`fallback`).
        self.fallbacks: list[tuple[str, str]] = []
        #: The fallback alias that served the request (``None``: the requested alias did).
        self.served_by: str | None = None
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0

    def elapsed_ms(self) -> float:
        """Milliseconds since the request started."""
        return (time.perf_counter_ns() - self.start_ns) / 1e6

    def first_token(self) -> None:
        """Record time-to-first-token (only the first call counts)."""
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def set_usage(self, usage: Usage) -> None:
        """Record token counts and where they come from."""
        self.input_tokens, self.output_tokens = usage.input_tokens, usage.output_tokens
        self.input_tokens_source, self.output_tokens_source = usage.input_source, usage.output_source
        self.cache_read_tokens, self.cache_write_tokens = usage.cache_read_tokens, usage.cache_write_tokens

    def fail(self, err: GatewayError) -> None:
        """Record a gateway error (status, type, message)."""
        self.status = err.status
        self.error_type = err.metric_type
        self.error_message = err.message
        self.deployment_problem = err.is_deployment_problem


class Telemetry:
    """Per-process logger + metrics emitter configured from :class:`GatewayConfig`.

    Output goes to ``stream`` if given, else to ``sys.stdout`` (looked up at write
    time).  Powertools keeps one logger per service name, so the first
    ``Telemetry`` created for a service decides where its log lines go.
    """

    def __init__(self, config: GatewayConfig, stream: TextIO | None = None) -> None:
        self.namespace = config.metrics_namespace
        self.service = config.service_name
        self.log_content = config.log_content
        self._handler = _Handler(stream)
        self.logger = Logger(
            service=self.service,
            level=os.environ.get("LOG_LEVEL", "INFO"),
            logger_handler=self._handler,
        )

    # -- output ------------------------------------------------------------------

    def _write(self, lines: list[str]) -> None:
        # Same lock as the log handler: EMF lines and log lines never interleave.
        text = "".join(line + "\n" for line in lines)
        self._handler.acquire()
        try:
            out = self._handler.stream
            out.write(text)
            out.flush()
        finally:
            self._handler.release()

    def _metrics(self, alias: str, **dimensions: str) -> EphemeralMetrics:
        metrics = EphemeralMetrics(namespace=self.namespace, service=self.service)
        metrics.add_dimension("ModelAlias", alias)
        for name, value in dimensions.items():
            metrics.add_dimension(name, value)
        return metrics

    # -- per request -------------------------------------------------------------

    def emit_metrics(self, record: RequestRecord, latency_ms: float) -> None:
        """Write the EMF documents for one finished request."""
        alias = record.alias or UNKNOWN_ALIAS
        failed = record.error_type is not None
        m = self._metrics(alias)
        m.add_metric("Requests", MetricUnit.Count, 1)
        m.add_metric("Errors", MetricUnit.Count, 1 if failed else 0)
        m.add_metric("Throttles", MetricUnit.Count, 1 if record.status == 429 else 0)
        m.add_metric("ModelConfigErrors", MetricUnit.Count, 1 if record.deployment_problem else 0)
        estimated_in = record.input_tokens if record.input_tokens_source == ESTIMATED else 0
        estimated_out = record.output_tokens if record.output_tokens_source == ESTIMATED else 0
        m.add_metric("InputTokens", MetricUnit.Count, record.input_tokens - estimated_in)
        m.add_metric("OutputTokens", MetricUnit.Count, record.output_tokens - estimated_out)
        if estimated_in or estimated_out:
            m.add_metric("EstimatedInputTokens", MetricUnit.Count, estimated_in)
            m.add_metric("EstimatedOutputTokens", MetricUnit.Count, estimated_out)
        m.add_metric("Latency", MetricUnit.Milliseconds, round(latency_ms, 3))
        if record.ttft_ms is not None:
            m.add_metric("TimeToFirstToken", MetricUnit.Milliseconds, round(record.ttft_ms, 3))
        if record.retrieval_ms is not None:
            m.add_metric("RetrievalLatency", MetricUnit.Milliseconds, round(record.retrieval_ms, 3))
            m.add_metric("RetrievalResults", MetricUnit.Count, record.retrieval_results or 0)
        if record.guarded:
            m.add_metric(
                "GuardrailIntervened", MetricUnit.Count, 1 if record.stop_reason == "guardrail_intervened" else 0
            )
        if record.cache_read_tokens or record.cache_write_tokens:
            m.add_metric("CacheReadInputTokens", MetricUnit.Count, record.cache_read_tokens)
            m.add_metric("CacheWriteInputTokens", MetricUnit.Count, record.cache_write_tokens)
        docs = [m.serialize_metric_set()]
        for _failed_alias, reason in record.fallbacks:
            f = self._metrics(alias, FallbackReason=reason)
            f.add_metric("Fallback", MetricUnit.Count, 1)
            docs.append(f.serialize_metric_set())
        if record.team is not None:  # bounded cardinality: teams, never users
            t = EphemeralMetrics(namespace=self.namespace, service=self.service)
            t.add_dimension("Team", record.team)
            t.add_metric("TeamRequests", MetricUnit.Count, 1)
            t.add_metric("TeamInputTokens", MetricUnit.Count, record.input_tokens)
            t.add_metric("TeamOutputTokens", MetricUnit.Count, record.output_tokens)
            t.add_metric(
                "TeamBudgetRejections", MetricUnit.Count, 1 if record.error_type == "insufficient_quota" else 0
            )
            if record.cost_usd is not None:
                t.add_metric("TeamEstimatedCost", MetricUnit.Count, round(record.cost_usd, 6))
            docs.append(t.serialize_metric_set())
        if record.error_type is not None:  # i.e. failed
            e = self._metrics(alias, ErrorType=record.error_type)
            e.add_metric("Errors", MetricUnit.Count, 1)
            docs.append(e.serialize_metric_set())
        self._write([json.dumps(d, separators=(",", ":")) for d in docs])

    def finish(self, record: RequestRecord) -> None:
        """Log the request line and emit its metrics, once per record.  Never raises."""
        if record.finished:
            return
        record.finished = True
        try:
            latency_ms = record.elapsed_ms()
            fields: dict[str, object] = {
                "request_id": record.request_id,
                "alias": record.alias,
                "model_id": record.model_id,
                "stream": record.stream,
                "status": record.status,
                "stop_reason": record.stop_reason,
                "tool_calls": record.tool_calls,
                "input_tokens": record.input_tokens,
                "output_tokens": record.output_tokens,
                "input_tokens_source": record.input_tokens_source,
                "output_tokens_source": record.output_tokens_source,
                "ttft_ms": None if record.ttft_ms is None else round(record.ttft_ms, 3),
                "latency_ms": round(latency_ms, 3),
                "error_type": record.error_type,
            }
            if record.team is not None:
                fields["team"] = record.team
                fields["caller"] = record.caller
                fields["cost_usd"] = record.cost_usd
            if record.error_message:
                fields["error_message"] = record.error_message
            if record.fallbacks:
                fields["fallbacks"] = [{"alias": a, "reason": r} for a, r in record.fallbacks]
                fields["served_by"] = record.served_by
            if record.cache_read_tokens or record.cache_write_tokens:
                fields["cache_read_tokens"] = record.cache_read_tokens
                fields["cache_write_tokens"] = record.cache_write_tokens
            if record.retrieval_ms is not None:
                fields["retrieval_ms"] = round(record.retrieval_ms, 3)
                fields["retrieval_results"] = record.retrieval_results
            if self.log_content:
                fields["prompt"] = record.prompt
                fields["completion"] = record.completion
                if record.citations is not None:
                    fields["citations"] = record.citations
            if record.status >= 500:
                self.logger.error("request", extra=fields)
            else:
                self.logger.info("request", extra=fields)
            self.emit_metrics(record, latency_ms)
        except Exception:  # pragma: no cover - telemetry must never break serving
            self.logger.exception("telemetry failure")
