"""Shared plumbing for every AWS call the gateway makes: boto3 clients and error mapping.

Clients.  :func:`make_client` builds the ``bedrock-runtime``, ``sagemaker-runtime``
and ``bedrock-agent-runtime`` clients with the same timeouts, retries and
User-Agent.  One client per service is created per process and shared by all
request threads (boto3 clients are thread-safe).  Settings, read from the
environment when a client is created (seconds / attempts):

* ``GATEWAY_UPSTREAM_CONNECT_TIMEOUT``, ``GATEWAY_UPSTREAM_READ_TIMEOUT``,
  ``GATEWAY_UPSTREAM_MAX_ATTEMPTS``;
* if unset, the original names ``GATEWAY_BEDROCK_CONNECT_TIMEOUT``,
  ``GATEWAY_BEDROCK_READ_TIMEOUT`` (the CDK construct sets it from the
  generation timeout) and ``GATEWAY_BEDROCK_MAX_ATTEMPTS``, which therefore
  apply to every upstream service, not only Bedrock;
* defaults: 5 s connect, 120 s read, 2 attempts (standard retry mode);
* the SageMaker InvokeEndpoint client caps the read timeout at 70 s (see
  :data:`sagemaker.INVOKE_READ_TIMEOUT`).

The standard AWS SDK configuration applies too, including per-service endpoint
overrides (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``,
``AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME``).

Errors.  Each service module keeps a table of :class:`ErrorSpec` keyed by the
lower-cased AWS error code; :func:`map_error` applies it and maps transport
failures (timeouts -> 504, unreachable endpoint -> 502) the same way for every
service.  Unknown codes become 502 ``upstream_error``: an upstream failure is
never reported as the gateway's own 500.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
import botocore
import urllib3.exceptions
from botocore.config import Config

if TYPE_CHECKING:
    from backend import StreamItem, Usage
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from errors import GatewayError

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 120.0
DEFAULT_MAX_ATTEMPTS = 2
THROTTLE_RETRY_AFTER = 2
UNAVAILABLE_RETRY_AFTER = 5
USER_AGENT = f"cdk-llm-serving-gateway/1 Boto3/{boto3.__version__} Botocore/{botocore.__version__}"
#: Environment variable prefixes, most specific first.
ENV_PREFIXES = ("GATEWAY_UPSTREAM_", "GATEWAY_BEDROCK_")

#: Raised by calls and while reading event streams: botocore errors, and raw urllib3
#: errors (read timeouts, truncated responses) that botocore does not wrap there.
UPSTREAM_EXCEPTIONS = (ClientError, BotoCoreError, urllib3.exceptions.HTTPError)


def setting(name: str, default: float) -> float:
    """``GATEWAY_UPSTREAM_<name>``, else ``GATEWAY_BEDROCK_<name>``, else ``default``."""
    for prefix in ENV_PREFIXES:
        value = os.environ.get(prefix + name)
        if value:
            return float(value)
    return default


def make_client(
    service: str,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
):
    """Create a boto3 client for ``service`` with gateway-appropriate timeouts and retries."""
    config = Config(
        connect_timeout=connect_timeout or setting("CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        read_timeout=read_timeout or setting("READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
        retries={
            "mode": "standard",
            "total_max_attempts": int(max_attempts or setting("MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)),
        },
        max_pool_connections=64,
        tcp_keepalive=True,
        # Requests are already validated by openai_compat; skip botocore's second pass.
        parameter_validation=False,
        # A fixed User-Agent: botocore otherwise rebuilds its structured UA string
        # twice per call (~0.1-0.2 ms of pure CPU on the request path).
        user_agent=USER_AGENT,
    )
    return boto3.session.Session().client(service, config=config)


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorSpec:
    """How one upstream error is shown to clients.

    ``message`` may use ``{target}`` (e.g. ``model 'x'``), ``{service}`` (e.g.
    ``the model service``) and ``{detail}`` (the upstream message).
    """

    status: int
    type: str
    code: str
    message: str
    retry_after: int | None = None

    def error(self, target: str, service: str, detail: str, metric_type: str) -> GatewayError:
        """Build the :class:`GatewayError` for one occurrence."""
        text = self.message.format(target=target, service=service, detail=detail)
        return GatewayError(
            self.status, text, type=self.type, code=self.code, retry_after=self.retry_after, metric_type=metric_type
        )


THROTTLED = ErrorSpec(
    429,
    "rate_limit_exceeded",
    "rate_limit_exceeded",
    "Rate limit reached for {target}; retry after a short wait.",
    THROTTLE_RETRY_AFTER,
)
QUOTA_EXCEEDED = ErrorSpec(
    429,
    "rate_limit_exceeded",
    "rate_limit_exceeded",
    "Service quota for {target} exceeded; retry after a short wait.",
    THROTTLE_RETRY_AFTER,
)
REJECTED = ErrorSpec(400, "invalid_request_error", "invalid_request", "The model rejected the request: {detail}")
ACCESS_DENIED = ErrorSpec(
    502,
    "api_error",
    "upstream_access_denied",
    "The gateway's IAM role is not allowed to call {target}. "
    "This is a deployment problem, not a problem with your request.",
)
NOT_READY = ErrorSpec(
    503,
    "service_unavailable",
    "model_not_ready",
    "The model is not ready to serve requests; retry later.",
    UNAVAILABLE_RETRY_AFTER,
)
UNAVAILABLE = ErrorSpec(
    503,
    "service_unavailable",
    "service_unavailable",
    "{service} is temporarily unavailable; retry later.",
    UNAVAILABLE_RETRY_AFTER,
)
TIMED_OUT = ErrorSpec(504, "timeout", "upstream_timeout", "The model took too long to respond.")
UPSTREAM_ERROR = ErrorSpec(502, "api_error", "upstream_error", "{service} returned an error; retry the request.")


def metric_name(code: str) -> str:
    """Error code as an ``ErrorType`` dimension (``throttlingException`` -> ``ThrottlingException``)."""
    return code[:1].upper() + code[1:]


def client_error_parts(exc: ClientError) -> tuple[str, str]:
    """``(code, message)`` of a botocore ClientError (message falls back to the code)."""
    err = exc.response.get("Error", {})
    code = str(err.get("Code") or "Unknown")
    return code, str(err.get("Message") or code)


def map_error(
    exc: Exception,
    table: dict[str, ErrorSpec],
    target: str,
    service: str = "The model service",
    metric_prefix: str = "",
) -> GatewayError:
    """Translate a botocore/urllib3 exception into a :class:`GatewayError` using ``table``."""
    if isinstance(exc, ClientError):
        code, detail = client_error_parts(exc)
        spec = table.get(code.lower(), UPSTREAM_ERROR)
        return spec.error(target, service, detail, metric_prefix + metric_name(code))
    noun = service[:1].lower() + service[1:]
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError, urllib3.exceptions.TimeoutError)):
        return GatewayError(
            504,
            f"Timed out waiting for {noun}.",
            type="timeout",
            code="upstream_timeout",
            metric_type=metric_prefix + type(exc).__name__,
        )
    if isinstance(exc, EndpointConnectionError):
        return GatewayError(
            502,
            f"Could not connect to {noun}.",
            type="api_error",
            code="upstream_unreachable",
            metric_type=metric_prefix + "EndpointConnectionError",
        )
    return GatewayError(
        502,
        f"Error while calling {noun}.",
        type="api_error",
        code="upstream_error",
        metric_type=metric_prefix + type(exc).__name__,
    )


@contextmanager
def mapped_errors(mapper: Callable[[Exception], GatewayError]) -> Iterator[None]:
    """Re-raise upstream exceptions inside the block as ``mapper(exc)``."""
    try:
        yield
    except UPSTREAM_EXCEPTIONS as exc:
        raise mapper(exc) from exc


class UpstreamStream:
    """Base of the backends' :class:`backend.CompletionStream` adapters.

    Subclasses implement :meth:`_texts` (text deltas from ``self._events``, setting
    ``stop_reason``/``usage``) and :meth:`_map_error`.  Iterating maps upstream
    errors to :class:`GatewayError` and always closes the upstream response.
    """

    def __init__(self, events) -> None:
        self._events = events
        self.stop_reason: str | None = None
        self.usage: Usage | None = None

    def _texts(self) -> Iterator[StreamItem]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _map_error(self, exc: Exception) -> GatewayError:  # pragma: no cover - abstract
        raise NotImplementedError

    def __iter__(self) -> Iterator[StreamItem]:
        try:
            with mapped_errors(self._map_error):
                yield from self._texts()
        finally:
            self.close()

    def close(self) -> None:
        """Close the upstream HTTP response (safe to call more than once)."""
        try:
            self._events.close()
        except Exception:  # pragma: no cover - closing must never raise
            pass
