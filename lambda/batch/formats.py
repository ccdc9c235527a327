"""Input records of a batch run: Bedrock's own JSONL, or OpenAI Batch API JSONL converted to Converse records.

Bedrock batch input (Bedrock user guide, "Format and upload your batch inference data"): one JSON object per
line, ``{"recordId": "<alphanumeric>", "modelInput": {...}}``; with ``modelInvocationType=Converse`` the model
input is a Converse request body (``messages``, ``system``, ``inferenceConfig``).

OpenAI Batch API input (platform.openai.com/docs/api-reference/batch/request-input): one request per line,
``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}``. Each is converted to a
Converse record; its ``recordId`` is generated (``custom_id`` may hold any characters) and the mapping back
to ``custom_id`` is kept for the results.

Every line is validated; a bad line becomes an :class:`InvalidLine` with its 1-based line number and the
reason, never dropped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

BEDROCK = "bedrock"
OPENAI = "openai"
AUTO = "auto"
FORMATS = (AUTO, BEDROCK, OPENAI)

CONVERSE = "Converse"
INVOKE_MODEL = "InvokeModel"

#: recordId: letters and digits (the user guide's "11CharAlphaNum" examples); we accept 1-64 of them.
RECORD_ID_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")
CHAT_COMPLETIONS_URL = "/v1/chat/completions"
#: OpenAI body fields with a Converse counterpart (others are refused, not ignored).
_INFERENCE_FIELDS = {
    "max_tokens": "maxTokens",
    "max_completion_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "stop": "stopSequences",
}
#: Accepted but without effect on a batch job: the run's model is fixed; ``n`` must be 1; ``stream`` must be off.
_IGNORED_FIELDS = {"model", "user", "metadata", "store"}


@dataclass(frozen=True)
class Record:
    """One valid record: the line it came from, its Bedrock ``recordId``, the JSONL line to submit and its size."""

    line: int
    record_id: str
    custom_id: str | None
    body: bytes


@dataclass(frozen=True)
class InvalidLine:
    """A line that cannot be submitted, and why."""

    line: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


def generated_record_id(line: int) -> str:
    """The recordId of a record without one (OpenAI input, or Bedrock input that omits it): ``L`` + line number."""
    return f"L{line:011d}"


def parse_lines(
    lines: Iterable[bytes | str], *, input_format: str = AUTO, invocation_type: str = CONVERSE, first_line: int = 1
) -> Iterator[Record | InvalidLine]:
    """Parse and validate JSONL ``lines`` (numbered from ``first_line``); blank lines are skipped."""
    if input_format not in FORMATS:
        raise ValueError(f"input_format must be one of {', '.join(FORMATS)}, got {input_format!r}")
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=first_line):
        text = raw.decode("utf-8", errors="strict") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        item = _parse_one(number, text, input_format=input_format, invocation_type=invocation_type)
        if isinstance(item, Record):
            key = item.custom_id if item.custom_id is not None else item.record_id
            if key in seen:
                what = "custom_id" if item.custom_id is not None else "recordId"
                item = InvalidLine(number, f"duplicate {what} {key!r} (first on line {seen[key]})")
            else:
                seen[key] = number
        yield item


def _parse_one(number: int, text: str, *, input_format: str, invocation_type: str) -> Record | InvalidLine:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return InvalidLine(number, f"not valid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(obj, dict):
        return InvalidLine(number, f"must be a JSON object, got {type(obj).__name__}")
    fmt = input_format
    if fmt == AUTO:
        fmt = OPENAI if "custom_id" in obj else BEDROCK if "modelInput" in obj else ""
        if not fmt:
            return InvalidLine(number, "neither a Bedrock record (modelInput) nor an OpenAI Batch request (custom_id)")
    try:
        if fmt == OPENAI:
            if invocation_type != CONVERSE:
                return InvalidLine(number, "OpenAI Batch requests are converted to Converse records: use Converse")
            custom_id, model_input = _from_openai(obj)
            record_id = generated_record_id(number)
        else:
            custom_id = None
            record_id, model_input = _from_bedrock(obj, number, invocation_type)
    except ValueError as exc:
        return InvalidLine(number, str(exc))
    body = json.dumps({"recordId": record_id, "modelInput": model_input}, separators=(",", ":"), ensure_ascii=False)
    return Record(line=number, record_id=record_id, custom_id=custom_id, body=body.encode() + b"\n")


def _from_bedrock(obj: dict[str, Any], number: int, invocation_type: str) -> tuple[str, dict[str, Any]]:
    unknown = sorted(set(obj) - {"recordId", "modelInput"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; a Bedrock record has only recordId and modelInput")
    model_input = obj.get("modelInput")
    if not isinstance(model_input, dict) or not model_input:
        raise ValueError("modelInput must be a non-empty JSON object")
    record_id = obj.get("recordId")
    if record_id is None:
        record_id = generated_record_id(number)
    elif not isinstance(record_id, str) or not RECORD_ID_RE.match(record_id):
        raise ValueError(f"recordId must be 1-64 letters or digits, got {record_id!r}")
    if invocation_type == CONVERSE:
        _check_converse(model_input)
    return record_id, model_input


def _check_converse(model_input: dict[str, Any]) -> None:
    messages = model_input.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("a Converse modelInput needs a non-empty 'messages' list")
    for i, m in enumerate(messages):
        if (
            not isinstance(m, dict)
            or m.get("role") not in ("user", "assistant")
            or not isinstance(m.get("content"), list)
        ):
            raise ValueError(f"messages[{i}] must be {{'role': 'user'|'assistant', 'content': [...]}}")
    if "toolConfig" in model_input:
        # Bedrock user guide (batch-inference-data): "Records that include toolConfig fail with a 400 error" in
        # Converse jobs; use the InvokeModel type with the model's native format for tools.
        raise ValueError("toolConfig is not supported in Converse batch jobs (use invocation type InvokeModel)")


def _from_openai(obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    custom_id = obj.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise ValueError("custom_id must be a non-empty string")
    if obj.get("method", "POST") != "POST":
        raise ValueError(f"method must be POST, got {obj.get('method')!r}")
    if obj.get("url") != CHAT_COMPLETIONS_URL:
        raise ValueError(f"url must be {CHAT_COMPLETIONS_URL}, got {obj.get('url')!r}")
    body = obj.get("body")
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object (a chat completions request)")
    return custom_id, chat_to_converse(body)


def chat_to_converse(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completions request body as a Converse request body (text only)."""
    for name in ("tools", "tool_choice", "functions", "response_format"):
        if body.get(name) is not None:
            raise ValueError(f"body.{name} is not supported in batch runs (Converse batch jobs take text messages)")
    if body.get("stream"):
        raise ValueError("body.stream must be false in a batch request")
    if body.get("n", 1) != 1:
        raise ValueError(f"body.n must be 1, got {body.get('n')!r}")
    unknown = sorted(set(body) - set(_INFERENCE_FIELDS) - _IGNORED_FIELDS - {"messages", "stream", "n"})
    if unknown:
        raise ValueError(f"unsupported body field(s): {', '.join(unknown)}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("body.messages must be a non-empty list")
    system: list[dict[str, str]] = []
    turns: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ValueError(f"body.messages[{i}] must be an object")
        role = m.get("role")
        text = _text(m.get("content"), f"body.messages[{i}].content")
        if role in ("system", "developer"):
            system.append({"text": text})
        elif role in ("user", "assistant"):
            if turns and turns[-1]["role"] == role:  # Converse alternates roles: join consecutive turns
                turns[-1]["content"].append({"text": text})
            else:
                turns.append({"role": role, "content": [{"text": text}]})
        else:
            raise ValueError(f"body.messages[{i}].role {role!r} is not supported (system, developer, user, assistant)")
    if not turns or turns[0]["role"] != "user":
        raise ValueError("body.messages needs a user message before any assistant message")
    converse: dict[str, Any] = {"messages": turns}
    if system:
        converse["system"] = system
    config = _inference_config(body)
    if config:
        converse["inferenceConfig"] = config
    return converse


def _text(content: Any, where: str) -> str:
    if isinstance(content, str) and content:
        return content
    if isinstance(content, list) and content:
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError(f"{where}[{j}] must be a text part (images and audio are not converted)")
            parts.append(part["text"])
        return "".join(parts)
    raise ValueError(f"{where} must be a non-empty string or a list of text parts")


def _inference_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, target in _INFERENCE_FIELDS.items():
        value = body.get(name)
        if value is None:
            continue
        if name == "stop":
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise ValueError("body.stop must be a string or a list of strings")
        elif name in ("max_tokens", "max_completion_tokens"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"body.{name} must be a positive integer, got {value!r}")
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"body.{name} must be a number, got {value!r}")
        config[target] = value
    return config
