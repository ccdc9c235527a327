"""OpenAI chat-completions compatibility: request validation and response shapes.

Transport-agnostic and backend-agnostic.  :func:`parse_chat_request` turns a
decoded request body into an internal :class:`ChatRequest` (raising
:class:`~errors.GatewayError` with OpenAI-shaped details on any problem);
the ``completion``/``chunk`` builders produce the exact dicts the official
OpenAI SDKs expect.

Policy decisions (documented here, enforced below):

* ``model`` must be an allowlisted chat alias; otherwise 404 ``model_not_found``
  (an embedding alias is a 400 ``wrong_model_kind``).
* Roles ``system``/``developer`` become system prompts; ``user``/``assistant``
  alternate (consecutive same-role messages are merged with a blank line);
  the first non-system message must be ``user``.  ``tool`` messages answer the
  ``tool_calls`` of the assistant message right before them: every call must be
  answered, by ``tool_call_id``, before the next user or assistant message (as
  OpenAI requires; Bedrock Converse requires the same of ``toolUse`` blocks).
* User content parts: ``text`` and ``image_url`` (see :mod:`images`); other parts
  (audio, files) are a 400.  Assistant history may carry ``tool_calls`` (arguments:
  a JSON object as a string), ``refusal: null``, ``annotations`` and ``reasoning_content``
  (this gateway's own field, echoed back by clients; ignored); a non-null ``refusal`` is a 400.
* ``tools``: function tools, names ``^[a-zA-Z0-9_-]{1,64}$`` and unique, ``parameters``
  a JSON-Schema object (``type`` absent or ``"object"``; absent parameters mean no
  parameters), ``description`` optional (an empty one is dropped), ``strict`` accepted.
  ``tool_choice``: ``auto`` (default), ``none``, ``required`` or a named function that
  is in ``tools``.  ``parallel_tool_calls: false`` keeps only the model's first call.
* ``response_format``: ``text`` (default), ``json_object``, ``json_schema`` (``name``
  ``^[a-zA-Z0-9_-]{1,64}$``, ``schema`` an object, ``strict`` accepted).
* ``reasoning_effort`` (``none``, ``minimal``, ``low``, ``medium``, ``high``, ``xhigh``,
  ``max``): only on aliases configured with ``reasoning``; ``none`` is accepted everywhere.
* ``temperature`` is validated against OpenAI's range 0..2 and forwarded as
  is; a model that only accepts 0..1 answers with a ValidationException (400).
* Fields with harmless default values (``n=1``, ``frequency_penalty=0``,
  ``presence_penalty=0``, ``logprobs=false``, ``top_logprobs=0``, ``service_tier``
  ``auto``/``default``, ``store=false``, or any field set to ``null``) are accepted,
  as are ``metadata`` (an object) and ``seed`` (an integer), both ignored; any other
  unsupported field is a 400 ``unsupported_parameter``.
* The effective output budget is ``min(max_tokens or defaultMaxTokens, maxTokensCap)``
  (with ``reasoning_effort`` and no ``max_tokens``: ``maxTokensCap``, the budget includes
  the reasoning tokens as OpenAI's ``max_completion_tokens`` does).
* Aliases with retrieval add ``citations`` (a list of ``{index, source, text, score}``)
  to the ``chat.completion`` object, or to the first chunk of a stream.
* When the backend did not report a token count, ``usage`` says how the gateway got it:
  ``usage.token_source`` = ``{"prompt_tokens": "reported" | "counted" | "estimated",
  "completion_tokens": ...}`` (absent when both were reported).
* Reasoning text comes back as ``message.reasoning_content`` (streams: ``delta.reasoning_content``),
  never inside ``content``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import images
from config import CHAT, GatewayConfig, ModelConfig
from errors import GatewayError, invalid_request

SUPPORTED_FIELDS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "n",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "reasoning_effort",
        "metadata",
        "seed",
    }
)
#: Unsupported fields accepted when they carry OpenAI's default value (name -> is-default test).
HARMLESS_DEFAULTS: dict[str, Callable[[Any], bool]] = {
    "frequency_penalty": lambda v: _is_number(v) and v == 0,
    "presence_penalty": lambda v: _is_number(v) and v == 0,
    "logprobs": lambda v: v is False,
    "top_logprobs": lambda v: _is_int(v) and v == 0,
    "service_tier": lambda v: v in ("auto", "default"),
    "store": lambda v: v is False,
}
SYSTEM_ROLES = frozenset({"system", "developer"})
CHAT_ROLES = frozenset({"user", "assistant"})
TOOL_ROLE = "tool"
#: Keys each role may carry (beyond null values, which are always accepted).
MESSAGE_KEYS = {
    "system": ("role", "content", "name"),
    "developer": ("role", "content", "name"),
    "user": ("role", "content", "name"),
    "assistant": ("role", "content", "name", "tool_calls", "annotations", "reasoning_content"),
    "tool": ("role", "content", "tool_call_id"),
}
MAX_STOP_SEQUENCES = 4
#: OpenAI's function-name rule (FunctionDefinition.name; Bedrock's ToolName is the same set, 1-64).
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
#: OpenAI accepts at most 128 tools per request.
MAX_TOOLS = 128
TOOL_CHOICES = ("auto", "none", "required")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

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
class Text:
    """A text content part."""

    text: str


@dataclass(frozen=True)
class ToolCall:
    """A function call made by the assistant: ``arguments`` is a JSON object as text."""

    id: str
    name: str
    arguments: str

    def to_dict(self) -> dict:
        """The OpenAI ``tool_calls`` entry."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class Message:
    """One conversation turn after merging.

    ``role`` is ``user``, ``assistant`` or ``tool``; ``parts`` holds :class:`Text` and
    :class:`images.Image` (or :class:`images.ImageRef` until fetched); assistant turns may
    carry ``tool_calls``, tool turns the ``tool_call_id`` they answer.
    """

    role: str
    parts: tuple = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        """The text parts, concatenated."""
        return "".join(p.text for p in self.parts if isinstance(p, Text))

    @property
    def images(self) -> tuple:
        """The image parts."""
        return tuple(p for p in self.parts if not isinstance(p, Text))


@dataclass(frozen=True)
class Tool:
    """A function tool offered to the model (``parameters`` always an object schema)."""

    name: str
    description: str | None
    parameters: dict
    strict: bool | None = None


@dataclass(frozen=True)
class ResponseFormat:
    """A structured-output request: ``json_object`` or ``json_schema``."""

    type: str
    name: str = "json_object"
    schema: dict | None = None
    description: str | None = None
    strict: bool | None = None


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
    tools: tuple[Tool, ...] = ()
    #: ``auto``, ``none``, ``required`` or ``function`` (then :attr:`tool_name` is the function).
    tool_choice: str = "auto"
    tool_name: str | None = None
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None
    #: ``None`` unless the caller asked for reasoning (an effort other than ``none``).
    reasoning_effort: str | None = None
    #: The caller sent ``max_tokens``/``max_completion_tokens``.
    max_tokens_requested: bool = field(default=False, compare=False)
    #: Bedrock ``requestMetadata`` pairs (team, caller hash, alias) set by governance; empty: none sent.
    request_metadata: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def alias(self) -> str:
        """The public model alias the caller asked for."""
        return self.model.alias

    @property
    def has_tool_history(self) -> bool:
        """Whether the conversation contains tool calls or tool results."""
        return any(m.tool_calls or m.role == TOOL_ROLE for m in self.messages)


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
            param=name,
            code="unsupported_parameter",
        )


def _text_parts(content: Any, param: str, allow_empty: bool = False) -> str:
    """The text of ``content`` (a string or a list of text parts)."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        pieces = []
        for j, part in enumerate(content):
            where = f"{param}[{j}]"
            if not isinstance(part, dict):
                raise invalid_request(f"'{where}' must be an object.", param=where, code="invalid_type")
            if part.get("type") != "text":
                raise invalid_request(
                    f"Only text content parts are supported here; got type {part.get('type')!r}.",
                    param=f"{where}.type",
                    code="unsupported_parameter",
                )
            if not isinstance(part.get("text"), str):
                raise invalid_request(f"'{where}.text' must be a string.", param=f"{where}.text", code="invalid_type")
            pieces.append(part["text"])
        text = "".join(pieces)
    elif content is None:
        raise invalid_request(f"'{param}' is required.", param=param, code="missing_required_parameter")
    else:
        raise invalid_request(f"'{param}' must be a string or a list of text parts.", param=param, code="invalid_type")
    if not allow_empty and not text.strip():
        raise invalid_request(f"'{param}' must not be empty.", param=param, code="empty_content")
    return text


class _ImageContext:
    """Counts images and knows the remote-URL allowlist while one request is parsed."""

    def __init__(self, config: GatewayConfig) -> None:
        self.origins = images.allowed_origins(config.image_url_hosts)
        self.count = 0

    def part(self, part: dict, param: str):
        self.count += 1
        if self.count > images.MAX_IMAGES:
            raise invalid_request(
                f"Too many images: a request may carry at most {images.MAX_IMAGES}.",
                param=param,
                code="too_many_images",
            )
        image_url = part.get("image_url")
        if isinstance(image_url, str):  # some clients send the URL directly
            image_url = {"url": image_url}
        if not isinstance(image_url, dict) or not isinstance(image_url.get("url"), str):
            raise invalid_request(
                f"'{param}.image_url.url' must be a string.", param=f"{param}.image_url.url", code="invalid_type"
            )
        detail = image_url.get("detail")
        if detail is not None and detail not in ("auto", "low", "high", "original"):
            raise invalid_request(
                f"'{param}.image_url.detail' must be auto, low, high or original.",
                param=f"{param}.image_url.detail",
                code="invalid_value",
            )
        url = image_url["url"].strip()
        where = f"{param}.image_url.url"
        if url[:5].lower() == "data:":
            return images.decode_data_url(url, where)
        return images.remote_ref(url, where, self.origins)


def _user_parts(content: Any, param: str, ctx: _ImageContext) -> tuple[list, int]:
    """User content -> (parts, characters of text)."""
    if not isinstance(content, list):
        text = _text_parts(content, param)
        return [Text(text)], len(text)
    parts: list = []
    chars = 0
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise invalid_request(f"'{where}' must be an object.", param=where, code="invalid_type")
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise invalid_request(f"'{where}.text' must be a string.", param=f"{where}.text", code="invalid_type")
            chars += len(part["text"])
            if parts and isinstance(parts[-1], Text):
                parts[-1] = Text(parts[-1].text + part["text"])
            else:
                parts.append(Text(part["text"]))
        elif kind == "image_url":
            parts.append(ctx.part(part, where))
        else:
            raise invalid_request(
                f"Content parts of type {kind!r} are not supported; use 'text' or 'image_url'.",
                param=f"{where}.type",
                code="unsupported_parameter",
            )
    parts = [p for p in parts if not (isinstance(p, Text) and not p.text.strip())]
    if not parts:
        raise invalid_request(f"'{param}' must not be empty.", param=param, code="empty_content")
    return parts, chars


def _tool_calls(raw: Any, param: str) -> tuple[ToolCall, ...]:
    if not isinstance(raw, list):
        raise invalid_request(f"'{param}' must be an array.", param=param, code="invalid_type")
    calls = []
    for j, call in enumerate(raw):
        where = f"{param}[{j}]"
        if not isinstance(call, dict):
            raise invalid_request(f"'{where}' must be an object.", param=where, code="invalid_type")
        if call.get("type", "function") != "function":
            raise invalid_request(
                f"Only function tool calls are supported; got type {call.get('type')!r}.",
                param=f"{where}.type",
                code="unsupported_parameter",
            )
        call_id, function = call.get("id"), call.get("function")
        if not isinstance(call_id, str) or not call_id:
            raise invalid_request(f"'{where}.id' must be a non-empty string.", param=f"{where}.id", code="invalid_type")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid_request(
                f"'{where}.function.name' must be a string.", param=f"{where}.function.name", code="invalid_type"
            )
        if not TOOL_NAME.fullmatch(function["name"]):
            raise invalid_request(
                f"'{where}.function.name' must match ^[a-zA-Z0-9_-]{{1,64}}$.",
                param=f"{where}.function.name",
                code="invalid_value",
            )
        arguments = function.get("arguments")
        if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
            arguments = "{}"
        if not isinstance(arguments, str):
            raise invalid_request(
                f"'{where}.function.arguments' must be a string (JSON).",
                param=f"{where}.function.arguments",
                code="invalid_type",
            )
        try:
            decoded = json.loads(arguments)
        except (ValueError, RecursionError):
            decoded = None
        if not isinstance(decoded, dict):
            raise invalid_request(
                f"'{where}.function.arguments' must be a JSON object encoded as a string.",
                param=f"{where}.function.arguments",
                code="invalid_value",
            )
        calls.append(ToolCall(call_id, function["name"], arguments))
    return tuple(calls)


def _merge(previous: Message, parts: list, tool_calls: tuple) -> Message:
    """``previous`` with ``parts`` and ``tool_calls`` appended (text joined with a blank line)."""
    merged = list(previous.parts)
    if merged and parts and isinstance(merged[-1], Text) and isinstance(parts[0], Text):
        merged[-1] = Text(merged[-1].text + "\n\n" + parts[0].text)
        parts = parts[1:]
    return Message(previous.role, tuple(merged + list(parts)), previous.tool_calls + tool_calls)


def _parse_messages(raw: Any, config: GatewayConfig) -> tuple[tuple[str, ...], tuple[Message, ...], int]:
    """Validate ``messages``; return (system prompts, merged turns, total characters)."""
    if raw is None:
        raise invalid_request("'messages' is required.", param="messages", code="missing_required_parameter")
    if not isinstance(raw, list):
        raise invalid_request("'messages' must be an array.", param="messages", code="invalid_type")
    if not raw:
        raise invalid_request("'messages' must contain at least one message.", param="messages", code="empty_array")
    limit = config.limits.max_messages
    if len(raw) > limit:
        raise invalid_request(
            f"Too many messages: {len(raw)} (this gateway allows at most {limit}).",
            param="messages",
            code="too_many_messages",
        )
    ctx = _ImageContext(config)
    system: list[str] = []
    turns: list[Message] = []
    pending: dict[str, str] = {}  # tool_call_id -> name, of the last assistant turn
    total = 0

    def require_answers(param: str) -> None:
        if pending:
            raise invalid_request(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to "
                f"each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                f"{', '.join(pending)}",
                param=param,
                code="invalid_value",
            )

    for i, msg in enumerate(raw):
        param = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise invalid_request(f"'{param}' must be an object.", param=param, code="invalid_type")
        role = msg.get("role")
        if role not in MESSAGE_KEYS:
            raise invalid_request(
                f"Invalid role {role!r} in '{param}'; supported roles are system, developer, user, assistant and tool.",
                param=f"{param}.role",
                code="invalid_value",
            )
        for key in msg:
            if key not in MESSAGE_KEYS[role] and msg[key] is not None:
                raise invalid_request(
                    f"Unsupported parameter: '{param}.{key}'.", param=f"{param}.{key}", code="unsupported_parameter"
                )
        if role in SYSTEM_ROLES:
            text = _text_parts(msg.get("content"), f"{param}.content")
            total += len(text)
            system.append(text)
            continue
        if role == TOOL_ROLE:
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise invalid_request(
                    f"'{param}.tool_call_id' must be a non-empty string.",
                    param=f"{param}.tool_call_id",
                    code="missing_required_parameter",
                )
            if call_id not in pending:
                raise invalid_request(
                    f"Invalid parameter: messages with role 'tool' must be a response to a preceding message "
                    f"with 'tool_calls' (no pending call has id {call_id!r}).",
                    param=f"{param}.tool_call_id",
                    code="invalid_value",
                )
            del pending[call_id]
            text = _text_parts(msg.get("content"), f"{param}.content", allow_empty=True)
            total += len(text)
            turns.append(Message(TOOL_ROLE, (Text(text),), tool_call_id=call_id))
            continue
        require_answers(param)
        tool_calls: tuple[ToolCall, ...] = ()
        if role == "assistant":
            tool_calls = (
                _tool_calls(msg["tool_calls"], f"{param}.tool_calls") if msg.get("tool_calls") is not None else ()
            )
            annotations, reasoning = msg.get("annotations"), msg.get("reasoning_content")
            if annotations is not None and not isinstance(annotations, list):
                raise invalid_request(
                    f"'{param}.annotations' must be an array.", param=f"{param}.annotations", code="invalid_type"
                )
            if reasoning is not None and not isinstance(reasoning, str):
                raise invalid_request(
                    f"'{param}.reasoning_content' must be a string.",
                    param=f"{param}.reasoning_content",
                    code="invalid_type",
                )
            content = msg.get("content")
            if tool_calls:  # the text is optional next to tool calls
                text = "" if content is None else _text_parts(content, f"{param}.content", allow_empty=True)
                parts: list = [Text(text)] if text.strip() else []
            else:
                parts = [Text(_text_parts(content, f"{param}.content"))]
            total += sum(len(p.text) for p in parts) + sum(len(c.arguments) for c in tool_calls)
            pending = {c.id: c.name for c in tool_calls}
            if len(pending) != len(tool_calls):
                raise invalid_request(
                    f"'{param}.tool_calls' has duplicate ids.", param=f"{param}.tool_calls", code="invalid_value"
                )
        else:
            parts, chars = _user_parts(msg.get("content"), f"{param}.content", ctx)
            total += chars
        if turns and turns[-1].role == role:
            turns[-1] = _merge(turns[-1], parts, tool_calls)
        else:
            if not turns and role != "user":
                raise invalid_request(
                    "The first non-system message must have role 'user'.", param=f"{param}.role", code="invalid_value"
                )
            turns.append(Message(role, tuple(parts), tool_calls))
    require_answers("messages")
    if not turns:
        raise invalid_request(
            "'messages' must contain at least one user message.", param="messages", code="invalid_value"
        )
    if total > config.limits.max_total_chars:
        raise invalid_request(
            f"The messages total {total} characters, more than this gateway's limit of "
            f"{config.limits.max_total_chars}.",
            param="messages",
            code="request_too_large",
            status=413,
        )
    return tuple(system), tuple(turns), total


def _object_schema(schema: Any, param: str, what: str) -> dict:
    """A JSON-Schema object schema (``type`` absent or ``"object"``); ``type`` is filled in."""
    if schema is None:
        return {"type": "object", "properties": {}}
    if not isinstance(schema, dict):
        raise invalid_request(f"'{param}' must be a JSON Schema object.", param=param, code="invalid_type")
    kind = schema.get("type", "object")
    if kind != "object":
        raise invalid_request(
            f"Invalid schema for {what}: schema must be a JSON Schema of 'type: \"object\"', got "
            f"'type: {json.dumps(kind)}'.",
            param=param,
            code="invalid_value",
        )
    return schema if "type" in schema else {"type": "object", **schema}


def _parse_tools(raw: Any) -> tuple[Tool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid_request("'tools' must be an array.", param="tools", code="invalid_type")
    if len(raw) > MAX_TOOLS:
        raise invalid_request(f"'tools' may list at most {MAX_TOOLS} tools.", param="tools", code="too_many_tools")
    tools: list[Tool] = []
    for i, tool in enumerate(raw):
        param = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise invalid_request(f"'{param}' must be an object.", param=param, code="invalid_type")
        if tool.get("type") != "function":
            raise invalid_request(
                f"Only function tools are supported; got type {tool.get('type')!r}.",
                param=f"{param}.type",
                code="unsupported_parameter",
            )
        function = tool.get("function")
        if not isinstance(function, dict):
            raise invalid_request(
                f"'{param}.function' is required.", param=f"{param}.function", code="missing_required_parameter"
            )
        name = function.get("name")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise invalid_request(
                f"Invalid '{param}.function.name': {name!r}. Expected a string that matches the pattern "
                f"'^[a-zA-Z0-9_-]{{1,64}}$'.",
                param=f"{param}.function.name",
                code="invalid_value",
            )
        if any(t.name == name for t in tools):
            raise invalid_request(
                f"Tool names must be unique; {name!r} appears more than once.",
                param=f"{param}.function.name",
                code="invalid_value",
            )
        description = function.get("description")
        if description is not None and not isinstance(description, str):
            raise invalid_request(
                f"'{param}.function.description' must be a string.",
                param=f"{param}.function.description",
                code="invalid_type",
            )
        strict = function.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise invalid_request(
                f"'{param}.function.strict' must be a boolean.", param=f"{param}.function.strict", code="invalid_type"
            )
        for key in function:
            if key not in ("name", "description", "parameters", "strict") and function[key] is not None:
                raise invalid_request(
                    f"Unsupported parameter: '{param}.function.{key}'.",
                    param=f"{param}.function.{key}",
                    code="unsupported_parameter",
                )
        parameters = _object_schema(function.get("parameters"), f"{param}.function.parameters", f"function '{name}'")
        # Bedrock's ToolSpecification.description has min length 1: an empty one is left out.
        tools.append(Tool(name, description if description and description.strip() else None, parameters, strict))
    return tuple(tools)


def _parse_tool_choice(raw: Any, tools: tuple[Tool, ...]) -> tuple[str, str | None]:
    if raw is None:
        return "auto", None
    if isinstance(raw, str):
        if raw not in TOOL_CHOICES:
            raise invalid_request(
                f"'tool_choice' must be one of {', '.join(TOOL_CHOICES)} or a named function.",
                param="tool_choice",
                code="invalid_value",
            )
        if raw == "required" and not tools:
            raise invalid_request(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                param="tool_choice",
                code="invalid_value",
            )
        return raw, None
    if not isinstance(raw, dict) or raw.get("type") != "function":
        raise invalid_request(
            "'tool_choice' must be 'auto', 'none', 'required' or "
            '{"type": "function", "function": {"name": ...}}.',
            param="tool_choice",
            code="unsupported_parameter",
        )
    function = raw.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise invalid_request(
            "'tool_choice.function.name' is required.",
            param="tool_choice.function.name",
            code="missing_required_parameter",
        )
    if not any(t.name == name for t in tools):
        raise invalid_request(
            f"Invalid 'tool_choice': function {name!r} is not in 'tools'.",
            param="tool_choice.function.name",
            code="invalid_value",
        )
    return "function", name


def _parse_response_format(raw: Any, tools: tuple[Tool, ...]) -> ResponseFormat | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid_request("'response_format' must be an object.", param="response_format", code="invalid_type")
    kind = raw.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        result = ResponseFormat("json_object")
    elif kind == "json_schema":
        spec = raw.get("json_schema")
        if not isinstance(spec, dict):
            raise invalid_request(
                "'response_format.json_schema' is required.",
                param="response_format.json_schema",
                code="missing_required_parameter",
            )
        name = spec.get("name")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise invalid_request(
                "'response_format.json_schema.name' must match ^[a-zA-Z0-9_-]{1,64}$.",
                param="response_format.json_schema.name",
                code="invalid_value",
            )
        strict, description = spec.get("strict"), spec.get("description")
        if strict is not None and not isinstance(strict, bool):
            raise invalid_request(
                "'response_format.json_schema.strict' must be a boolean.",
                param="response_format.json_schema.strict",
                code="invalid_type",
            )
        if description is not None and not isinstance(description, str):
            raise invalid_request(
                "'response_format.json_schema.description' must be a string.",
                param="response_format.json_schema.description",
                code="invalid_type",
            )
        schema = _object_schema(spec.get("schema"), "response_format.json_schema.schema", f"response format '{name}'")
        result = ResponseFormat("json_schema", name, schema, description or None, strict)
    else:
        raise invalid_request(
            f"'response_format.type' must be text, json_object or json_schema; got {kind!r}.",
            param="response_format.type",
            code="invalid_value",
        )
    if any(t.name == result.name for t in tools):
        raise invalid_request(
            f"The response format name {result.name!r} is also the name of a tool; rename one.",
            param="response_format",
            code="invalid_value",
        )
    return result


def _reasoning_effort(body: dict, model: ModelConfig) -> str | None:
    effort = body.get("reasoning_effort")
    if effort is None or effort == "none":
        return None
    if effort not in REASONING_EFFORTS:
        raise invalid_request(
            f"'reasoning_effort' must be one of {', '.join(REASONING_EFFORTS)}.",
            param="reasoning_effort",
            code="invalid_value",
        )
    if not model.reasoning:
        raise invalid_request(
            f"Model '{model.alias}' does not support 'reasoning_effort' (its alias is not configured for reasoning).",
            param="reasoning_effort",
            code="unsupported_parameter",
        )
    return effort


def _optional_number(body: dict, name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if not _is_number(value):
        raise invalid_request(f"'{name}' must be a number.", param=name, code="invalid_type")
    if not low <= value <= high:
        raise invalid_request(f"'{name}' must be between {low:g} and {high:g}.", param=name, code="invalid_value")
    return value


def _max_tokens(body: dict, model: ModelConfig, reasoning: bool) -> tuple[int, bool]:
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
                param=name,
                code="invalid_value",
            )
        requested = value
    default = model.max_tokens_cap if reasoning else model.default_max_tokens
    return min(requested or default, model.max_tokens_cap), requested is not None


def _stop(body: dict) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or len(items) > MAX_STOP_SEQUENCES
        or not all(isinstance(s, str) and s for s in items)
    ):
        raise invalid_request(
            f"'stop' must be a non-empty string or a list of at most {MAX_STOP_SEQUENCES} non-empty strings.",
            param="stop",
            code="invalid_value",
        )
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
        raise invalid_request("'stream_options' must be an object.", param="stream_options", code="invalid_type")
    if not stream:
        raise invalid_request(
            "'stream_options' is only allowed when 'stream' is true.", param="stream_options", code="invalid_value"
        )
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        raise invalid_request(
            "'stream_options.include_usage' must be a boolean.",
            param="stream_options.include_usage",
            code="invalid_type",
        )
    return stream, include


def _ignored_fields(body: dict) -> None:
    """``metadata`` and ``seed`` are accepted (and ignored) when well-formed."""
    metadata, seed = body.get("metadata"), body.get("seed")
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise invalid_request("'metadata' must be an object of strings.", param="metadata", code="invalid_type")
    if seed is not None and not _is_int(seed):
        raise invalid_request("'seed' must be an integer.", param="seed", code="invalid_type")


def lookup_model(body: dict, config: GatewayConfig, kind: str) -> ModelConfig:
    """The allowlisted alias named by ``body["model"]``, which must be of ``kind``."""
    alias = body.get("model")
    if alias is None:
        raise invalid_request("'model' is required.", param="model", code="missing_required_parameter")
    if not isinstance(alias, str):
        raise invalid_request("'model' must be a string.", param="model", code="invalid_type")
    model = config.model(alias)
    if model is None:
        raise GatewayError(
            404,
            f"The model '{alias}' does not exist or you do not have access to it.",
            type="invalid_request_error",
            code="model_not_found",
            param="model",
        )
    if model.kind != kind:
        endpoint = "/v1/embeddings" if model.kind != CHAT else "/v1/chat/completions"
        raise invalid_request(
            f"Model '{alias}' is a{'n' if model.kind[0] in 'aeiou' else ''} {model.kind} model; "
            f"use it with {endpoint}.",
            param="model",
            code="wrong_model_kind",
        )
    return model


def parse_chat_request(body: Any, config: GatewayConfig) -> ChatRequest:
    """Validate a decoded ``/v1/chat/completions`` body against ``config``.

    Raises :class:`GatewayError` (400/404/413) with OpenAI error details.
    """
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    _check_fields(body)
    model = lookup_model(body, config, CHAT)
    system, messages, total = _parse_messages(body.get("messages"), config)
    n = body.get("n")
    if n is not None and (not _is_int(n) or n != 1):
        raise invalid_request("Only n=1 is supported.", param="n", code="unsupported_parameter")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_request("'user' must be a string.", param="user", code="invalid_type")
    _ignored_fields(body)
    stream, include_usage = _stream_flags(body)
    tools = _parse_tools(body.get("tools"))
    tool_choice, tool_name = _parse_tool_choice(body.get("tool_choice"), tools)
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise invalid_request(
            "'parallel_tool_calls' must be a boolean.", param="parallel_tool_calls", code="invalid_type"
        )
    effort = _reasoning_effort(body, model)
    max_tokens, requested = _max_tokens(body, model, effort is not None)
    return ChatRequest(
        model=model,
        messages=messages,
        system=system,
        max_tokens=max_tokens,
        temperature=_optional_number(body, "temperature", 0, 2),
        top_p=_optional_number(body, "top_p", 0, 1),
        stop=_stop(body),
        stream=stream,
        include_usage=include_usage,
        user=user,
        total_chars=total,
        tools=tools,
        tool_choice=tool_choice,
        tool_name=tool_name,
        parallel_tool_calls=parallel is not False,
        response_format=_parse_response_format(body.get("response_format"), tools),
        reasoning_effort=effort,
        max_tokens_requested=requested,
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


def usage_dict(
    input_tokens: int, output_tokens: int, token_source: dict | None = None, cache: tuple[int, int] | None = None
) -> dict:
    """OpenAI ``usage`` object; ``token_source`` (added when given) says how the gateway got counts
    the model did not report, e.g. ``{"prompt_tokens": "estimated", "completion_tokens": "counted"}``.

    ``cache`` (prompt-cache ``(read, write)`` tokens, which Bedrock reports apart from ``inputTokens``): OpenAI's
    ``prompt_tokens`` counts cached tokens too, so both are added to it, and ``prompt_tokens_details`` carries
    ``cached_tokens`` (read) and ``cache_write_tokens`` (both fields of the openai SDK's ``PromptTokensDetails``)."""
    read, write = cache or (0, 0)
    prompt = input_tokens + read + write
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": output_tokens,
        "total_tokens": prompt + output_tokens,
    }
    if cache is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": read, "cache_write_tokens": write}
    if token_source is not None:
        usage["token_source"] = token_source
    return usage


def completion(
    alias: str,
    text: str,
    stop_reason: str | None,
    input_tokens: int,
    output_tokens: int,
    citations: list | None = None,
    token_source: dict | None = None,
    tool_calls: tuple[ToolCall, ...] = (),
    reasoning: str | None = None,
    cache: tuple[int, int] | None = None,
) -> dict:
    """Build a non-streaming ``chat.completion`` object (``citations`` added when given).

    With tool calls the message carries ``tool_calls`` (and ``content`` is ``null`` when the
    model wrote no text); reasoning text goes into ``reasoning_content``.
    """
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not tool_calls else None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [c.to_dict() for c in tool_calls]
    result = {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": alias,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(stop_reason),
            }
        ],
        "usage": usage_dict(input_tokens, output_tokens, token_source, cache),
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

    def reasoning(self, text: str) -> dict:
        """A reasoning delta (``reasoning_content``, never ``content``)."""
        return self.delta({"reasoning_content": text})

    def tool_call(self, index: int, call_id: str | None, name: str | None, arguments: str) -> dict:
        """A ``tool_calls`` delta: the first one of a call carries id, type and name, later ones
        argument fragments only (OpenAI's streaming shape)."""
        entry: dict[str, Any] = {"index": index}
        function: dict[str, str] = {"arguments": arguments}
        if call_id is not None:
            entry["id"] = call_id
            entry["type"] = "function"
            function = {"name": name or "", "arguments": arguments}
        entry["function"] = function
        return self.delta({"tool_calls": [entry]})

    def finish(self, stop_reason: str | None) -> dict:
        """Final choice chunk: empty delta plus finish_reason."""
        return self.delta({}, finish_reason(stop_reason))

    def usage(
        self,
        input_tokens: int,
        output_tokens: int,
        token_source: dict | None = None,
        cache: tuple[int, int] | None = None,
    ) -> dict:
        """Trailing usage chunk (only sent when include_usage was requested)."""
        return self._chunk([], usage_dict(input_tokens, output_tokens, token_source, cache))
