"""Join a run's job outputs back to its records, and summarize the run.

Bedrock writes one ``<input file>.out`` JSONL per input file (Bedrock user guide, "View the results of a batch
inference job"): ``{"recordId", "modelInput", "modelOutput"}``, or ``"error": {"errorCode", "errorMessage"}``
instead of ``modelOutput`` for a failed record, and a ``manifest.json.out`` with the job's record and token
counts. The output order is not guaranteed, so records are joined on ``recordId``; a record with no output line
is reported as missing, never dropped.

For OpenAI-format input the results are also written as OpenAI Batch output lines
(platform.openai.com/docs/api-reference/batch/request-output):
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
    "tool_use": "tool_calls",
}


@dataclass
class Tally:
    """What a run produced: record counts, tokens, and the problems, each listed."""

    records: int = 0
    succeeded: int = 0
    failed: int = 0
    missing: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    unmatched_outputs: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self, *, problem_limit: int = 100) -> dict[str, Any]:
        return {
            "records": self.records,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "missing": self.missing,
            "unmatched_outputs": self.unmatched_outputs,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "problems": self.problems[:problem_limit],
            "problems_truncated": max(0, len(self.problems) - problem_limit),
        }


def parse_outputs(lines: Iterable[bytes | str]) -> Iterator[dict[str, Any]]:
    """The output records of a ``.jsonl.out`` file (lines that are not JSON objects are skipped: Bedrock wrote them)."""
    for raw in lines:
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("recordId"), str):
            yield obj


def usage_of(model_output: Any) -> tuple[int, int]:
    """(input, output) tokens of one model output: Converse/Nova ``usage.inputTokens``, Anthropic
    ``usage.input_tokens``, Llama ``prompt_token_count``/``generation_token_count``."""
    if not isinstance(model_output, dict):
        return 0, 0
    usage = model_output.get("usage")
    if isinstance(usage, dict):
        i = usage.get("inputTokens", usage.get("input_tokens", 0))
        o = usage.get("outputTokens", usage.get("output_tokens", 0))
        return _int(i), _int(o)
    return _int(model_output.get("prompt_token_count", 0)), _int(model_output.get("generation_token_count", 0))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def join(
    expected: Iterable[str], outputs: Iterable[dict[str, Any]], *, part: int, failed_job: str | None = None
) -> tuple[dict[str, dict[str, Any]], Tally]:
    """Join ``outputs`` to the ``expected`` recordIds of one part (any order).

    Returns the result per recordId (``{"recordId", "modelOutput"}`` or ``{"recordId", "error"}``) and the part's
    tally. Expected records without output are ``missing`` (with ``failed_job`` as the reason when the job did
    not complete); output lines for unknown recordIds are counted, not merged.
    """
    wanted = list(expected)
    index = set(wanted)
    tally = Tally(records=len(wanted))
    results: dict[str, dict[str, Any]] = {}
    for out in outputs:
        rid = out["recordId"]
        if rid not in index:
            tally.unmatched_outputs += 1
            continue
        if rid in results:
            continue
        if "modelOutput" in out and out.get("error") is None:
            results[rid] = {"recordId": rid, "modelOutput": out["modelOutput"]}
            tally.succeeded += 1
            i, o = usage_of(out["modelOutput"])
            tally.input_tokens += i
            tally.output_tokens += o
        else:
            raw_error = out.get("error")
            err: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
            error = {
                "code": str(err.get("errorCode", "unknown")),
                "message": str(err.get("errorMessage", "no modelOutput in the output record")),
            }
            results[rid] = {"recordId": rid, "error": error}
            tally.failed += 1
            tally.problems.append({"part": part, "recordId": rid, **error})
    for rid in wanted:
        if rid not in results:
            reason = failed_job or "no output record for this recordId"
            results[rid] = {"recordId": rid, "error": {"code": "missing", "message": reason}}
            tally.missing += 1
            tally.problems.append({"part": part, "recordId": rid, "code": "missing", "message": reason})
    return results, tally


def add(total: Tally, part: Tally) -> None:
    total.records += part.records
    total.succeeded += part.succeeded
    total.failed += part.failed
    total.missing += part.missing
    total.unmatched_outputs += part.unmatched_outputs
    total.input_tokens += part.input_tokens
    total.output_tokens += part.output_tokens
    total.problems.extend(part.problems)


def openai_line(
    result: Mapping[str, Any], custom_id: str, *, model: str, request_id: str, created: int
) -> dict[str, Any]:
    """One OpenAI Batch output line for a joined result."""
    rid = result["recordId"]
    if "modelOutput" not in result:
        error = result["error"]
        return {"id": f"batch_req_{rid}", "custom_id": custom_id, "response": None, "error": error}
    out = result["modelOutput"] if isinstance(result["modelOutput"], dict) else {}
    message = (out.get("output") or {}).get("message") or {}
    text = "".join(c.get("text", "") for c in message.get("content", []) if isinstance(c, dict))
    prompt, completion = usage_of(out)
    body = {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": _FINISH.get(str(out.get("stopReason")), "stop"),
            }
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }
    return {
        "id": f"batch_req_{rid}",
        "custom_id": custom_id,
        "response": {"status_code": 200, "request_id": request_id, "body": body},
        "error": None,
    }


def estimated_cost(tally: Tally, price: Mapping[str, float] | None) -> float | None:
    """USD for the run's tokens at ``price`` (``{"input_per_million", "output_per_million"}``, batch prices)."""
    if not price:
        return None
    return round(
        tally.input_tokens / 1e6 * float(price["input_per_million"])
        + tally.output_tokens / 1e6 * float(price["output_per_million"]),
        6,
    )
