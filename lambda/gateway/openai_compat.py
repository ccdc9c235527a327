"""OpenAI chat-completions compatibility: request validation and response shapes.

Transport-agnostic and backend-agnostic.  :func:`parse_chat_request` turns a
decoded request body into an internal :class:`ChatRequest` (raising
:class:`~errors.GatewayError` with OpenAI-shaped details on any problem);
the ``completion``/``chunk`` builders produce the exact dicts the official
OpenAI SDKs expect.

Policy decisions (documented here, enforced below):

* ``model`` must be an allowlisted alias; otherwise 404 ``model_not_found``.
* Roles ``system``/``developer`` become system prompts; ``user``/``assistant``
  alternate (consecutive same-role messages are merged with a blank line);
  the first non-system message must be ``user``.
* ``temperature`` is validated against OpenAI's range 0..2 and forwarded as
  is; a model that only accepts 0..1 answers with a ValidationException (400).
* Fields with harmless default values (``n=1``, ``frequency_penalty=0``,
  ``presence_penalty=0``, ``logprobs=false``, or any field set to ``null``)
  are accepted; any other unsupported field is a 400 ``unsupported_parameter``.
* The effective output budget is ``min(max_tokens or defaultMaxTokens, maxTokensCap)``.
* Aliases with retrieval add ``citations`` (a list of ``{index, source, text, score}``)
  to the ``chat.completion`` object, or to the first chunk of a stream.
* When the backend did not report a token count, ``usage`` says how the gateway got it:
  ``usage.token_source`` = ``{"prompt_tokens": "reported" | "counted" | "estimated",
  "completion_tokens": ...}`` (absent when both were reported).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from config import GatewayConfig, ModelConfig
from errors import GatewayError, invalid_request

SUPPORTED_FIELDS = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens",
    "max_completion_tokens", "temperature", "top_p", "stop", "n", "user",
})
#: Unsupported fields accepted when they carry OpenAI's default value (name -> is-default test).
HARMLESS_DEFAULTS: dict[str, Callable[[Any], bool]] = {
    "frequency_penalty": lambda v: _is_number(v) and v == 0,
    "presence_penalty": lambda v: _is_number(v) and v == 0,
    "logprobs": lambda v: v is False,
}
SYSTEM_ROLES = frozenset({"system", "developer"})
CHAT_ROLES = frozenset({"user", "assistant"})
MAX_STOP_SEQUENCES = 4

#: Bedrock Converse stopReason -> OpenAI finish_reason.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "tool_use": "tool_calls",
}
#: OpenAI finish_reason -> backend stop reason: the inverse of FINISH_REASONS, for
#: backends that answer in OpenAI's format (SageMaker containers).  TGI's
#: ``eos_token``/``stop_sequence`` are included; other values pass through unchanged.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "content_filter": "content_filtered",
    "tool_calls": "tool_use",
    "eos_token": "end_turn",
    "stop_sequence": "stop_sequence",
}


@dataclass(frozen=True)
class Message:
    """One conversation turn after merging (role is ``user`` or ``assistant``)."""

    role: str
    text: str


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request, independent of OpenAI and of any backend."""

    model: ModelConfig
    messages: tuple[Message, ...]
    system: tuple[str, ...] = ()
    max_tokens: int = 1024
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    total_chars: int = field(default=0, compare=False)

    @property
    def alias(self) -> str:
        """The public model alias the caller asked for."""
        return self.model.alias


# --------------------------------------------------------------------------- validation

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_fields(body: dict) -> None:
    for name, value in body.items():
        if name in SUPPORTED_FIELDS or value is None:
            continue
        is_default = HARMLESS_DEFAULTS.get(name)
        if is_default is not None and is_default(value):
            continue
        raise invalid_request(
            f"Unsupported parameter: '{name}' is not supported by this gateway.",
            param=name, code="unsupported_parameter",
        )


def _content_text(content: Any, param: str) -> str:
    """Return the text of a message ``content`` (string or list of text parts)."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                raise invalid_request(f"'{param}[{j}]' must be an object.", param=f"{param}[{j}]",
                                      code="invalid_type")
            if part.get("type") != "text":
                raise invalid_request(
                    f"Only text content parts are supported; got type {part.get('type')!r}.",
                    param=f"{param}[{j}].type", code="unsupported_parameter")
            if not isinstance(part.get("text"), str):
                raise invalid_request(f"'{param}[{j}].text' must be a string.",
                                      param=f"{param}[{j}].text", code="invalid_type")
            parts.append(part["text"])
        text = "".join(parts)
    elif content is None:
        raise invalid_request(f"'{param}' is required.", param=param, code="missing_required_parameter")
    else:
        raise invalid_request(f"'{param}' must be a string or a list of text parts.",
                              param=param, code="invalid_type")
    if not text.strip():
        raise invalid_request(f"'{param}' must not be empty.", param=param, code="empty_content")
    return text


def _parse_messages(raw: Any, config: GatewayConfig) -> tuple[tuple[str, ...], tuple[Message, ...], int]:
    """Validate ``messages``; return (system prompts, merged turns, total characters)."""
    if raw is None:
        raise invalid_request("'messages' is required.", param="messages",
                              code="missing_required_parameter")
    if not isinstance(raw, list):
        raise invalid_request("'messages' must be an array.", param="messages", code="invalid_type")
    if not raw:
        raise invalid_request("'messages' must contain at least one message.", param="messages",
                              code="empty_array")
    limit = config.limits.max_messages
    if len(raw) > limit:
        raise invalid_request(f"Too many messages: {len(raw)} (this gateway allows at most {limit}).",
                              param="messages", code="too_many_messages")
    system: list[str] = []
    turns: list[list] = []  # [role, [texts]]
    total = 0
    for i, msg in enumerate(raw):
        param = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise invalid_request(f"'{param}' must be an object.", param=param, code="invalid_type")
        role = msg.get("role")
        if role not in SYSTEM_ROLES and role not in CHAT_ROLES:
            raise invalid_request(
                f"Invalid role {role!r} in '{param}'; supported roles are system, user and assistant.",
                param=f"{param}.role", code="invalid_value")
        for key in msg:
            if key not in ("role", "content", "name") and msg[key] is not None:
                raise invalid_request(f"Unsupported parameter: '{param}.{key}'.",
                                      param=f"{param}.{key}", code="unsupported_parameter")
        text = _content_text(msg.get("content"), f"{param}.content")
        total += len(text)
        if role in SYSTEM_ROLES:
            system.append(text)
        elif turns and turns[-1][0] == role:
            turns[-1][1].append(text)
        else:
            if not turns and role != "user":
                raise invalid_request(
                    "The first non-system message must have role 'user'.",
                    param=f"{param}.role", code="invalid_value")
            turns.append([role, [text]])
    if not turns:
        raise invalid_request("'messages' must contain at least one user message.",
                              param="messages", code="invalid_value")
    if total > config.limits.max_total_chars:
        raise invalid_request(
            f"The messages total {total} characters, more than this gateway's limit of "
            f"{config.limits.max_total_chars}.",
            param="messages", code="request_too_large", status=413)
    merged = tuple(Message(role, "\n\n".join(texts)) for role, texts in turns)
    return tuple(system), merged, total


def _optional_number(body: dict, name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if not _is_number(value):
        raise invalid_request(f"'{name}' must be a number.", param=name, code="invalid_type")
    if not low <= value <= high:
        raise invalid_request(f"'{name}' must be between {low:g} and {high:g}.", param=name,
                              code="invalid_value")
    return value


def _max_tokens(body: dict, model: ModelConfig) -> int:
    requested = None
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not _is_int(value):
            raise invalid_request(f"'{name}' must be an integer.", param=name, code="invalid_type")
        if value < 1:
            raise invalid_request(f"'{name}' must be at least 1.", param=name, code="invalid_value")
        if requested is not None and value != requested:
            raise invalid_request(
                "'max_tokens' and 'max_completion_tokens' were both given with different values.",
                param=name, code="invalid_value")
        requested = value
    return min(requested or model.default_max_tokens, model.max_tokens_cap)


def _stop(body: dict) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if (not isinstance(items, list) or len(items) > MAX_STOP_SEQUENCES
            or not all(isinstance(s, str) and s for s in items)):
        raise invalid_request(
            f"'stop' must be a non-empty string or a list of at most {MAX_STOP_SEQUENCES} non-empty strings.",
            param="stop", code="invalid_value")
    return tuple(items)


def _stream_flags(body: dict) -> tuple[bool, bool]:
    stream = body.get("stream")
    if stream is None:
        stream = False
    elif not isinstance(stream, bool):
        raise invalid_request("'stream' must be a boolean.", param="stream", code="invalid_type")
    options = body.get("stream_options")
    if options is None:
        return stream, False
    if not isinstance(options, dict):
        raise invalid_request("'stream_options' must be an object.", param="stream_options",
                              code="invalid_type")
    if not stream:
        raise invalid_request("'stream_options' is only allowed when 'stream' is true.",
                              param="stream_options", code="invalid_value")
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        raise invalid_request("'stream_options.include_usage' must be a boolean.",
                              param="stream_options.include_usage", code="invalid_type")
    return stream, include


def parse_chat_request(body: Any, config: GatewayConfig) -> ChatRequest:
    """Validate a decoded ``/v1/chat/completions`` body against ``config``.

    Raises :class:`GatewayError` (400/404/413) with OpenAI error details.
    """
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    _check_fields(body)
    alias = body.get("model")
    if alias is None:
        raise invalid_request("'model' is required.", param="model", code="missing_required_parameter")
    if not isinstance(alias, str):
        raise invalid_request("'model' must be a string.", param="model", code="invalid_type")
    model = config.model(alias)
    if model is None:
        raise GatewayError(
            404, f"The model '{alias}' does not exist or you do not have access to it.",
            type="invalid_request_error", code="model_not_found", param="model")
    system, messages, total = _parse_messages(body.get("messages"), config)
    n = body.get("n")
    if n is not None and (not _is_int(n) or n != 1):
        raise invalid_request("Only n=1 is supported.", param="n", code="unsupported_parameter")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_request("'user' must be a string.", param="user", code="invalid_type")
    stream, include_usage = _stream_flags(body)
    return ChatRequest(
        model=model,
        messages=messages,
        system=system,
        max_tokens=_max_tokens(body, model),
        temperature=_optional_number(body, "temperature", 0, 2),
        top_p=_optional_number(body, "top_p", 0, 1),
        stop=_stop(body),
        stream=stream,
        include_usage=include_usage,
        user=user,
        total_chars=total,
    )


# --------------------------------------------------------------------------- responses

def finish_reason(stop_reason: str | None) -> str:
    """Map a backend stop reason (Bedrock vocabulary) to an OpenAI finish_reason."""
    return FINISH_REASONS.get(stop_reason or "", "stop")


def backend_stop_reason(finish: str | None) -> str | None:
    """Map an OpenAI-style finish_reason back to the backend (Bedrock) vocabulary."""
    if not finish:
        return None
    return STOP_REASONS.get(finish, finish)


def new_completion_id() -> str:
    """Return a fresh ``chatcmpl-`` identifier."""
    return "chatcmpl-" + os.urandom(12).hex()


def usage_dict(input_tokens: int, output_tokens: int, token_source: dict | None = None) -> dict:
    """OpenAI ``usage`` object; ``token_source`` (added when given) says how the gateway got counts
    the model did not report, e.g. ``{"prompt_tokens": "estimated", "completion_tokens": "counted"}``."""
    usage = {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    if token_source is not None:
        usage["token_source"] = token_source
    return usage


def completion(alias: str, text: str, stop_reason: str | None,
               input_tokens: int, output_tokens: int, citations: list | None = None,
               token_source: dict | None = None) -> dict:
    """Build a non-streaming ``chat.completion`` object (``citations`` added when given)."""
    result = {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": alias,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": None,
            "finish_reason": finish_reason(stop_reason),
        }],
        "usage": usage_dict(input_tokens, output_tokens, token_source),
    }
    if citations is not None:
        result["citations"] = citations
    return result


class ChunkBuilder:
    """Builds the ``chat.completion.chunk`` objects of one streamed completion.

    All chunks share id/created/model.  With ``include_usage`` every chunk
    carries ``"usage": null`` except the final usage chunk (``choices: []``),
    which is what the OpenAI API does.
    """

    def __init__(self, alias: str, include_usage: bool) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.alias = alias
        self.include_usage = include_usage

    def _chunk(self, choices: list, usage: dict | None = None) -> dict:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.alias,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage
        return chunk

    def delta(self, delta: dict, finish: str | None = None) -> dict:
        """A chunk with one choice carrying ``delta`` (and ``finish_reason``)."""
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

    def role(self, citations: list | None = None) -> dict:
        """First chunk: announces the assistant role (and carries ``citations`` when given)."""
        chunk = self.delta({"role": "assistant", "content": ""})
        if citations is not None:
            chunk["citations"] = citations
        return chunk

    def content(self, text: str) -> dict:
        """A content delta."""
        return self.delta({"content": text})

    def finish(self, stop_reason: str | None) -> dict:
        """Final choice chunk: empty delta plus finish_reason."""
        return self.delta({}, finish_reason(stop_reason))

    def usage(self, input_tokens: int, output_tokens: int, token_source: dict | None = None) -> dict:
        """Trailing usage chunk (only sent when include_usage was requested)."""
        return self._chunk([], usage_dict(input_tokens, output_tokens, token_source))
