"""Amazon Bedrock backends: chat on Converse / ConverseStream, embeddings on InvokeModel.

The ``bedrock-runtime`` client comes from :func:`upstream.make_client` (shared
timeouts/retries: ``GATEWAY_UPSTREAM_*`` or ``GATEWAY_BEDROCK_*``; endpoint
override ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``).  Errors are mapped with
:data:`_ERRORS` (see :func:`upstream.map_error`).

Translation (botocore bedrock-runtime 2023-09-30 shapes):

* messages: user text and images (``image: {format, source: {bytes}}``), assistant text
  and ``toolUse {toolUseId, name, input}``, tool messages as ``toolResult {toolUseId,
  content: [{text}]}`` in a user turn; consecutive turns of one Converse role merge (tool
  results, and a user message after them, form one user turn, as Converse requires).
  Converse rejects blank text blocks, so an empty tool result is sent as
  :data:`EMPTY_TOOL_RESULT`; call ids outside Converse's ``ToolUseId`` pattern are
  replaced by a stable hash.
* ``toolConfig``: ``tools`` -> ``toolSpec {name, description?, inputSchema: {json}}``;
  ``tool_choice`` ``auto`` -> no ``toolChoice`` (Converse's default), ``required`` ->
  ``any``, a named function -> ``tool``.  Converse has no "none": with ``none`` (or no
  tools) the tools are not offered, and tool calls/results already in the history are sent
  as text (Converse rejects toolUse/toolResult blocks without a ``toolConfig``: "The
  toolConfig field must be defined when using toolUse and toolResult content blocks").
  ``strict`` is not forwarded (model-specific in Converse).
* ``response_format`` ``json_object``/``json_schema``: a tool named after the format
  (``json_object``, or ``json_schema.name``) whose input schema is the requested schema
  (an open object for ``json_object``) is forced (``toolChoice.tool``; ``any`` when the
  caller's tools are offered too, so the model either calls one of them or answers); its
  input comes back as the message ``content`` (streams: its input deltas as content
  deltas), never as ``tool_calls``, and text blocks are dropped.
* ``reasoning_effort`` on a ``reasoning`` alias: ``additionalModelRequestFields.thinking =
  {type: enabled, budget_tokens}`` (Anthropic extended thinking; :data:`THINKING_BUDGETS`,
  at most half of ``maxTokens``, at least 1024).  Anthropic rejects thinking with a
  temperature other than 1, ``top_p`` below 0.95 and forced tool use, so those are 400s here;
  while the last assistant turn holds tool calls (a tool loop), thinking is left off, because
  Anthropic then requires that turn's signed thinking block, which OpenAI clients do not send
  back.  ``reasoningContent`` blocks come back as ``reasoning_content``.
* ``parallel_tool_calls: false``: only the first tool call is returned.
* an alias with a ``guardrail``: ``guardrailConfig {guardrailIdentifier, guardrailVersion, trace}`` on every call
  (ConverseStream: plus ``streamProcessingMode``); a blocked prompt or answer stops with ``guardrail_intervened``.
* ``promptCaching``: a ``cachePoint`` block after the system prompt and after the tools; ``usage``
  ``cacheReadInputTokens`` / ``cacheWriteInputTokens`` are read into :class:`backend.Usage`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

import upstream
from backend import Completion, Embeddings, ReasoningDelta, StreamItem, ToolCallDelta, Usage
from errors import GatewayError, invalid_request
from images import Image
from openai_compat import TOOL_ROLE, Text, ToolCall
from upstream import ErrorSpec

MODEL_NOT_FOUND = ErrorSpec(
    502,
    "api_error",
    "upstream_model_not_found",
    "The gateway cannot use {target} in this account/region (check model access and the model id): {detail} "
    "This is a deployment problem, not a problem with your request.",
)

# Bedrock error code (lower-cased) -> how clients see it.
_ERRORS: dict[str, ErrorSpec] = {
    "throttlingexception": upstream.THROTTLED,
    "servicequotaexceededexception": upstream.QUOTA_EXCEEDED,
    "validationexception": upstream.REJECTED,
    "accessdeniedexception": upstream.ACCESS_DENIED,
    "resourcenotfoundexception": MODEL_NOT_FOUND,
    "modelnotreadyexception": upstream.NOT_READY,
    "serviceunavailableexception": upstream.UNAVAILABLE,
    "modeltimeoutexception": upstream.TIMED_OUT,
}

# ValidationException messages that blame the model ID the deployment configured, not the request:
# an unknown ID or a profile called from a Region outside its geography ("The provided model identifier
# is invalid."), and a model that only runs through an inference profile ("Invocation of model ID ...
# with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile").
_MODEL_ID_MESSAGES = ("model identifier is invalid", "with on-demand throughput isn")

#: Converse rejects blank text blocks; an empty tool result is sent as this text.
EMPTY_TOOL_RESULT = "(no output)"
#: Converse ``ToolUseId``: ``[a-zA-Z0-9_.:-]+``, 1-64 characters.
TOOL_USE_ID = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
#: reasoning_effort -> Anthropic ``thinking.budget_tokens`` (then capped at half of maxTokens).
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768, "max": 65536}
#: Anthropic's smallest thinking budget (Bedrock User Guide, "Extended thinking").
MIN_THINKING_BUDGET = 1024
#: Anthropic accepts thinking only with temperature 1 (or unset) and top_p >= 0.95 (or unset).
THINKING_MIN_TOP_P = 0.95
#: Description of the forced structured-output tool.
RESPONSE_TOOL_DESCRIPTION = (
    "Give your final answer by calling this tool: its input is the complete answer, "
    "a JSON object that follows the schema."
)
#: Cohere Embed on Bedrock takes at most 96 texts per call (Bedrock User Guide, model-parameters-embed).
COHERE_MAX_TEXTS = 96
#: InvokeModel reports the input token count in this response header (Cohere's body has none).
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"


def _is_model_id_rejection(exc: Exception) -> bool:
    if not isinstance(exc, ClientError):
        return False
    code, message = upstream.client_error_parts(exc)
    return code.lower() == "validationexception" and any(m in message.lower() for m in _MODEL_ID_MESSAGES)


def make_client(**overrides):
    """Create a ``bedrock-runtime`` client (see :func:`upstream.make_client`)."""
    return upstream.make_client("bedrock-runtime", **overrides)


def map_error(exc: Exception, model_id: str) -> GatewayError:
    """Translate a botocore exception into a :class:`GatewayError`.

    A ValidationException about the model ID itself is a deployment problem (502), not a bad request;
    any other (a malformed tool schema, an image the model cannot read, ...) is a 400 with Bedrock's message.
    """
    if _is_model_id_rejection(exc):
        return upstream.map_error(exc, {"validationexception": MODEL_NOT_FOUND}, f"model '{model_id}'")
    return upstream.map_error(exc, _ERRORS, f"model '{model_id}'")


# --------------------------------------------------------------------------- requests


def tool_use_id(call_id: str) -> str:
    """``call_id`` if Converse accepts it as a ``toolUseId``, else a stable replacement."""
    if TOOL_USE_ID.fullmatch(call_id):
        return call_id
    return "call_" + hashlib.sha256(call_id.encode()).hexdigest()[:40]


def _user_blocks(message) -> list[dict]:
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, Text):
            blocks.append({"text": part.text})
        elif isinstance(part, Image):
            blocks.append({"image": {"format": part.format, "source": {"bytes": part.data}}})
        else:  # pragma: no cover - service.resolve_images fetches remote images first
            raise TypeError(f"unresolved content part {part!r}")
    return blocks


def _assistant_blocks(message, tools_offered: bool) -> list[dict]:
    blocks: list[dict[str, Any]] = [{"text": message.text}] if message.text else []
    for call in message.tool_calls:
        if tools_offered:
            blocks.append(
                {"toolUse": {"toolUseId": tool_use_id(call.id), "name": call.name, "input": json.loads(call.arguments)}}
            )
        else:
            blocks.append({"text": f"[Called tool {call.name} (call id {call.id}) with arguments {call.arguments}]"})
    return blocks


def converse_messages(request, tools_offered: bool) -> list[dict]:
    """The Converse ``messages`` of ``request`` (see the module docstring)."""
    turns: list[dict] = []
    for m in request.messages:
        blocks: list[dict[str, Any]]
        if m.role == TOOL_ROLE:
            role, text = "user", m.text if m.text.strip() else EMPTY_TOOL_RESULT
            if tools_offered:
                blocks = [{"toolResult": {"toolUseId": tool_use_id(m.tool_call_id), "content": [{"text": text}]}}]
            else:
                blocks = [{"text": f"[Result of tool call {m.tool_call_id}]\n{text}"}]
        elif m.role == "assistant":
            role, blocks = "assistant", _assistant_blocks(m, tools_offered)
        else:
            role, blocks = "user", _user_blocks(m)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def _tool_spec(name: str, description: str | None, schema: dict) -> dict:
    spec: dict[str, Any] = {"name": name, "inputSchema": {"json": schema}}
    if description:  # ToolSpecification.description: NonEmptyString (min 1)
        spec["description"] = description
    return {"toolSpec": spec}


def _tools(request) -> tuple[list[dict], dict | None, str | None]:
    """(Converse tools, toolChoice or None for auto, name of the forced response tool or None)."""
    offered = (
        []
        if request.tool_choice == "none"
        else [_tool_spec(t.name, t.description, t.parameters) for t in request.tools]
    )
    if request.tool_choice == "required":
        return offered, {"any": {}}, None
    if request.tool_choice == "function":
        return offered, {"tool": {"name": request.tool_name}}, None
    fmt = request.response_format
    if fmt is None:
        return offered, None, None
    description = RESPONSE_TOOL_DESCRIPTION + (f" {fmt.description}" if fmt.description else "")
    response_tool = _tool_spec(fmt.name, description, fmt.schema or {"type": "object"})
    choice = {"any": {}} if offered else {"tool": {"name": fmt.name}}
    return [*offered, response_tool], choice, fmt.name


def _thinking(request, choice: dict | None, messages: list[dict]) -> dict | None:
    """``additionalModelRequestFields.thinking`` for ``request``, or ``None`` (see the module docstring)."""
    effort = request.reasoning_effort
    if effort is None:
        return None
    alias = request.alias
    if choice is not None:
        param = "tool_choice" if request.tool_choice in ("required", "function") else "response_format"
        raise invalid_request(
            f"'reasoning_effort' cannot be combined with forced tool use on model '{alias}' (Anthropic's extended "
            f"thinking rejects it; structured output is forced tool use here): drop '{param}' or 'reasoning_effort'.",
            param=param,
            code="invalid_value",
        )
    if request.temperature is not None and request.temperature != 1:
        raise invalid_request(
            f"With 'reasoning_effort', 'temperature' must be 1 or unset on model '{alias}' "
            f"(Anthropic's extended thinking rejects other values).",
            param="temperature",
            code="invalid_value",
        )
    if request.top_p is not None and request.top_p < THINKING_MIN_TOP_P:
        raise invalid_request(
            f"With 'reasoning_effort', 'top_p' must be at least {THINKING_MIN_TOP_P} or unset on "
            f"model '{alias}' (Anthropic's extended thinking rejects lower values).",
            param="top_p",
            code="invalid_value",
        )
    last_assistant = next((t for t in reversed(messages) if t["role"] == "assistant"), None)
    if last_assistant is not None and any("toolUse" in b for b in last_assistant["content"]):
        return None  # inside a tool loop: the signed thinking block of that turn would be required
    budget = min(THINKING_BUDGETS[effort], request.max_tokens // 2)
    if budget < MIN_THINKING_BUDGET:
        raise invalid_request(
            f"'reasoning_effort' needs 'max_tokens' of at least {2 * MIN_THINKING_BUDGET} on model '{alias}' "
            f"(reasoning gets half of it, and Anthropic's smallest thinking budget is {MIN_THINKING_BUDGET} "
            f"tokens); got {request.max_tokens}.",
            param="max_tokens",
            code="invalid_value",
        )
    return {"type": "enabled", "budget_tokens": budget}


@dataclass(frozen=True)
class Plan:
    """A Converse call for one request: its parameters and how to read the answer."""

    params: dict
    #: Name of the forced structured-output tool, whose input is the answer's content.
    structured: str | None = None
    #: ``parallel_tool_calls: false``: keep the first tool call only.
    single_tool_call: bool = False


def plan(request) -> Plan:
    """Build the Converse/ConverseStream call for a ChatRequest."""
    inference = {"maxTokens": request.max_tokens}
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.top_p is not None:
        inference["topP"] = request.top_p
    if request.stop:
        inference["stopSequences"] = list(request.stop)
    tools, choice, structured = _tools(request)
    messages = converse_messages(request, bool(tools))
    params = {
        "modelId": request.model.target.model_id,
        "messages": messages,
        "inferenceConfig": inference,
    }
    if request.system:
        params["system"] = [{"text": s} for s in request.system]
    if tools:
        params["toolConfig"] = {"tools": tools, **({"toolChoice": choice} if choice else {})}
    if request.request_metadata:  # invocation-log filtering (limits: governance.REQUEST_METADATA_*)
        params["requestMetadata"] = dict(request.request_metadata)
    thinking = _thinking(request, choice, messages)
    if thinking is not None:
        params["additionalModelRequestFields"] = {"thinking": thinking}
    model = request.model
    if model.prompt_caching:
        if "system" in params:
            params["system"].append(CACHE_POINT)
        if tools:
            params["toolConfig"]["tools"] = [*tools, CACHE_POINT]
    if model.guardrail is not None:
        params["guardrailConfig"] = guardrail_config(model.guardrail, request.stream)
    return Plan(params, structured, not request.parallel_tool_calls)


#: A prompt-cache checkpoint (botocore ``CachePointBlock``: ``type`` ``default``; the default TTL is 5 minutes).
CACHE_POINT = {"cachePoint": {"type": "default"}}


def guardrail_config(guardrail, stream: bool) -> dict:
    """Converse ``guardrailConfig`` (``GuardrailConfiguration``), or ConverseStream's
    (``GuardrailStreamConfiguration``, which adds ``streamProcessingMode``)."""
    config = {
        "guardrailIdentifier": guardrail.identifier,
        "guardrailVersion": guardrail.version,
        "trace": guardrail.trace,
    }
    if stream:
        config["streamProcessingMode"] = guardrail.stream_processing_mode
    return config


def converse_params(request) -> dict:
    """Converse/ConverseStream keyword arguments for a ChatRequest."""
    return plan(request).params


# --------------------------------------------------------------------------- responses


def _usage(raw: dict | None) -> Usage:
    raw = raw or {}
    return Usage(
        int(raw.get("inputTokens", 0)),
        int(raw.get("outputTokens", 0)),
        cache_read_tokens=int(raw.get("cacheReadInputTokens") or 0),
        cache_write_tokens=int(raw.get("cacheWriteInputTokens") or 0),
    )


def _arguments(value: Any) -> str:
    return json.dumps(value if value is not None else {}, ensure_ascii=False)


def parse_output(resp: dict, how: Plan) -> Completion:
    """A Converse response -> :class:`Completion` (see the module docstring)."""
    blocks = resp.get("output", {}).get("message", {}).get("content", [])
    texts, reasoning, calls = [], [], []
    answer = None
    for block in blocks:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            if use.get("name") == how.structured:
                answer = _arguments(use.get("input"))
            else:
                calls.append(ToolCall(use.get("toolUseId", ""), use.get("name", ""), _arguments(use.get("input"))))
        elif "reasoningContent" in block:
            text = (block["reasoningContent"].get("reasoningText") or {}).get("text")
            if text:
                reasoning.append(text)
    if how.single_tool_call:
        calls = calls[:1]
    stop = resp.get("stopReason")
    if how.structured is not None:
        texts = [answer] if answer is not None else []
        if stop == "tool_use" and not calls:
            stop = "end_turn"
    return Completion("".join(texts), stop, _usage(resp.get("usage")), tuple(calls), "".join(reasoning) or None)


_JSON_BLOCK = -1  # a content block carrying the structured answer
_DROPPED = -2  # a tool call beyond the first with parallel_tool_calls false


class BedrockStream(upstream.UpstreamStream):
    """Adapts a ConverseStream event stream to :class:`backend.CompletionStream`.

    Text deltas pass through as they arrive; ``contentBlockStart.toolUse`` becomes the first
    :class:`ToolCallDelta` of a call (id and name), each ``contentBlockDelta.toolUse.input``
    fragment the next; ``reasoningContent`` text becomes :class:`ReasoningDelta`.
    """

    def __init__(self, event_stream, model_id: str, how: Plan | None = None) -> None:
        super().__init__(event_stream)
        self._model_id = model_id
        self._structured = how.structured if how else None
        self._single = how.single_tool_call if how else False
        self._blocks: dict[int, int] = {}  # contentBlockIndex -> tool call ordinal (or a marker)
        self._calls = 0

    def _map_error(self, exc: Exception) -> GatewayError:
        return map_error(exc, self._model_id)

    def _texts(self) -> Iterator[StreamItem]:
        structured = self._structured
        for event in self._events:
            delta = event.get("contentBlockDelta")
            if delta is not None:
                body = delta.get("delta", {})
                text = body.get("text")
                if text is not None:
                    if text and structured is None:
                        yield text
                elif "toolUse" in body:
                    fragment = body["toolUse"].get("input", "")
                    ordinal = self._blocks.get(delta.get("contentBlockIndex", 0), _DROPPED)
                    if fragment and ordinal == _JSON_BLOCK:
                        yield fragment
                    elif fragment and ordinal >= 0:
                        yield ToolCallDelta(ordinal, arguments=fragment)
                elif "reasoningContent" in body:
                    reasoning = body["reasoningContent"].get("text")
                    if reasoning:
                        yield ReasoningDelta(reasoning)
            elif "contentBlockStart" in event:
                start = event["contentBlockStart"]
                use = start.get("start", {}).get("toolUse")
                if use is None:
                    continue
                index = start.get("contentBlockIndex", 0)
                if use.get("name") == structured:
                    self._blocks[index] = _JSON_BLOCK
                elif self._single and self._calls:
                    self._blocks[index] = _DROPPED
                else:
                    self._blocks[index] = self._calls
                    yield ToolCallDelta(self._calls, use.get("toolUseId", ""), use.get("name", ""))
                    self._calls += 1
            elif "messageStop" in event:
                self.stop_reason = event["messageStop"].get("stopReason")
                if structured is not None and self.stop_reason == "tool_use" and not self._calls:
                    self.stop_reason = "end_turn"
            elif "metadata" in event:
                self.usage = _usage(event["metadata"].get("usage"))


class BedrockBackend:
    """Backend for chat aliases with ``target.type == "bedrock"``."""

    def __init__(self, client=None) -> None:
        self.client = client or make_client()

    def complete(self, request) -> Completion:
        """Call Converse and return the whole completion."""
        how = plan(request)
        with upstream.mapped_errors(lambda exc: map_error(exc, how.params["modelId"])):
            resp = self.client.converse(**how.params)
        return parse_output(resp, how)

    def stream(self, request) -> BedrockStream:
        """Call ConverseStream; HTTP-level errors raise here, before any event."""
        how = plan(request)
        with upstream.mapped_errors(lambda exc: map_error(exc, how.params["modelId"])):
            resp = self.client.converse_stream(**how.params)
        return BedrockStream(resp["stream"], how.params["modelId"], how)


# --------------------------------------------------------------------------- embeddings


def embedding_bodies(request) -> list[dict]:
    """The InvokeModel bodies for an :class:`embeddings.EmbeddingRequest` (one per call)."""
    family = request.model.embedding_family
    if family == "titan-v2":
        extra = {"dimensions": request.dimensions} if request.dimensions is not None else {}
        return [{"inputText": text, **extra, "normalize": True} for text in request.inputs]
    texts = list(request.inputs)
    return [
        {"texts": texts[i : i + COHERE_MAX_TEXTS], "input_type": request.input_type, "embedding_types": ["float"]}
        for i in range(0, len(texts), COHERE_MAX_TEXTS)
    ]


def _bad_embedding(model_id: str, why: str) -> GatewayError:
    return GatewayError(
        502,
        f"Model '{model_id}' returned embeddings the gateway could not read ({why}).",
        type="api_error",
        code="upstream_bad_response",
        metric_type="BadModelResponse",
    )


def _vectors(family: str, data: Any, model_id: str) -> list[list[float]]:
    if not isinstance(data, dict):
        raise _bad_embedding(model_id, "not a JSON object")
    if family == "titan-v2":
        vectors: Any = [data.get("embedding")]  # unvalidated JSON until the check below
    else:
        embeddings = data.get("embeddings")
        vectors = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
    if not isinstance(vectors, list) or not all(isinstance(v, list) for v in vectors):
        raise _bad_embedding(model_id, "no embedding vectors")
    return vectors


class BedrockEmbeddingBackend:
    """Backend for embedding aliases: InvokeModel with each model family's body."""

    def __init__(self, client=None) -> None:
        self.client = client or make_client()

    def embed(self, request) -> Embeddings:
        model_id = request.model.target.model_id
        family = request.model.embedding_family
        vectors: list[list[float]] = []
        tokens = 0
        for body in embedding_bodies(request):
            with upstream.mapped_errors(lambda exc: map_error(exc, model_id)):
                resp = self.client.invoke_model(
                    modelId=model_id,
                    body=json.dumps(body).encode(),
                    contentType="application/json",
                    accept="application/json",
                )
                raw = resp["body"].read()
            try:
                data = json.loads(raw)
            except ValueError:
                raise _bad_embedding(model_id, "not JSON") from None
            vectors.extend(_vectors(family, data, model_id))
            count = data.get("inputTextTokenCount")
            if count is None:
                count = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(INPUT_TOKENS_HEADER, 0)
            tokens += int(count or 0)
        if len(vectors) != len(request.inputs):
            raise _bad_embedding(model_id, f"{len(vectors)} vectors for {len(request.inputs)} inputs")
        return Embeddings(vectors, tokens)
