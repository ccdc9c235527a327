"""A local stand-in for the Amazon Bedrock Runtime Converse and InvokeModel APIs (loopback only).

Speaks the real wire protocol, so the gateway's unmodified boto3 client can
talk to it via ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``:

* ``POST /model/{modelId}/converse``        -> JSON ``ConverseResponse``
* ``POST /model/{modelId}/converse-stream`` -> ``application/vnd.amazon.eventstream``
  (AWS event-stream binary framing, one HTTP chunk per event): ``messageStart``;
  per content block ``contentBlockStart`` (tool uses: ``start.toolUse {toolUseId, name}``),
  ``contentBlockDelta`` (``text``, ``toolUse.input`` JSON fragments, ``reasoningContent``
  text then signature) and ``contentBlockStop``; ``messageStop``; ``metadata``.
* ``POST /model/{modelId}/invoke``          -> an embedding model's JSON body (Titan Text
  Embeddings V2, Cohere Embed v3), token count also in ``x-amzn-bedrock-input-token-count``.
* errors: HTTP status + ``x-amzn-ErrorType`` header + ``{"message": ...}`` body,
  or an in-stream ``:message-type: exception`` event.

Requests are validated as Bedrock (and Anthropic behind it) does, each rejection a
``ValidationException`` with the service's wording (quoted from public error reports
where noted): conversation shape (starts with ``user``, roles alternate), blank text
blocks, tool blocks (``toolUse`` only from the assistant, ``toolResult`` only from the
user, every ``toolUse`` answered in the next message, no ``toolResult`` without its
``toolUse``, a ``toolConfig`` whenever such blocks appear), ``toolConfig`` (tool names,
non-empty descriptions, object input schemas, a ``toolChoice`` naming an offered tool),
images (user turns only, at most 20, format matching the bytes, at most 3.75 MB and
8000x8000 px: botocore ``Message.content``), and Anthropic's extended thinking
(``budget_tokens`` >= 1024 and below ``maxTokens``; temperature 1, ``top_p`` >= 0.95,
no forced tool; a final assistant turn with tool use must start with a thinking block).

The model obeys ``toolChoice``: when a tool is forced (``tool``, or ``any``) and the
behaviour scripts no tool use, it calls that tool (``any``: the first) with
``Behaviour.forced_input`` and writes no text.  Reasoning text is only produced when
the request enables thinking.

Tests script behaviours with :meth:`BedrockStandIn.script`; every request
received is recorded in :attr:`BedrockStandIn.requests`.  The event-stream
encoder and server plumbing live in :mod:`standin_common`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import time
from dataclasses import dataclass, field

import standin_common
from standin_common import ScriptedStandIn, StandInHandler

#: HTTP status of each Bedrock Runtime error (from the service model).
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "InternalServerException": 500,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ModelStreamErrorException": 424,
    "ModelTimeoutException": 408,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 400,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "ValidationException": 400,
}
#: botocore bedrock-runtime 2023-09-30 ``Message.content``: 20 images, 3.75 MB, 8000 px.
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 3_750_000
MAX_IMAGE_PIXELS = 8000
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
TOOL_USE_ID = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
SIGNATURE = "c3RhbmQtaW4tc2lnbmF0dXJl"
EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary")
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")


def event(event_type: str, payload: dict) -> bytes:
    """An ``:message-type: event`` message with a JSON payload."""
    return standin_common.event(event_type, json.dumps(payload).encode())


def exception(exception_type: str, message: str) -> bytes:
    """An ``:message-type: exception`` message (e.g. ``modelStreamErrorException``)."""
    return standin_common.exception(exception_type, {"message": message})


# --------------------------------------------------------------------------- behaviours


@dataclass
class ToolUse:
    """A tool call the scripted model makes; ``fragments`` are the streamed pieces of its input JSON."""

    name: str
    input: dict = field(default_factory=dict)
    id: str | None = None
    fragments: list[str] | None = None

    def pieces(self) -> list[str]:
        if self.fragments is not None:
            return self.fragments
        text = json.dumps(self.input)
        third = max(1, len(text) // 3)
        return [text[i : i + third] for i in range(0, len(text), third)]


@dataclass
class Behaviour:
    """What the stand-in does for one request.

    ``error``: answer with this Bedrock exception (HTTP error) instead.
    ``stream_exception``: for converse-stream, send this in-stream exception
    after ``exception_after`` text chunks.  ``delay``: seconds to wait before
    responding; ``stall_after``/``stall``: pause mid-stream after N chunks.
    ``tool_uses``: tool calls after the text; ``reasoning``: reasoning text pieces
    (only when the request enables thinking); ``forced_input``: the input of a tool
    the request forces when no tool use is scripted; ``tool_stall``: seconds to pause before each
    tool-input fragment.  ``stop_reason`` ``end_turn``
    becomes ``tool_use`` when the answer calls tools.  ``guardrail_intervenes``: the request's guardrail
    blocks it (the answer is :data:`GUARDRAIL_BLOCKED` with stop reason ``guardrail_intervened``; the request
    must carry a ``guardrailConfig``).  ``cache_read_tokens``/``cache_write_tokens``: reported in ``usage``
    when set.
    """

    chunks: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    stop_reason: str = "end_turn"
    input_tokens: int = 11
    output_tokens: int = 4
    error: str | None = None
    error_message: str = "scripted error"
    stream_exception: str | None = None
    exception_after: int = 1
    delay: float = 0.0
    stall_after: int | None = None
    stall: float = 0.0
    tool_uses: list[ToolUse] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    forced_input: dict = field(default_factory=dict)
    tool_stall: float = 0.0
    guardrail_intervenes: bool = False
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None


@dataclass
class Received:
    """One request as received by the stand-in."""

    operation: str
    model_id: str
    body: dict
    headers: dict


class Rejected(Exception):
    """A request Bedrock would answer with ValidationException."""


# --------------------------------------------------------------------------- validation


def image_kind(data: bytes) -> str | None:
    """What the bytes are (by signature), independently of the gateway's own reader."""
    for signature, kind in ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8", "jpeg"), (b"GIF8", "gif")):
        if data.startswith(signature):
            return kind
    return "webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


def image_size(kind: str, data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header: PNG IHDR, GIF screen, JPEG SOF0-3, WebP VP8X/VP8L/VP8."""
    try:
        if kind == "png":
            return struct.unpack(">II", data[16:24])
        if kind == "gif":
            return struct.unpack("<HH", data[6:10])
        if kind == "jpeg":
            sof = re.search(rb"\xff[\xc0-\xc3]..[\x00-\xff](..)(..)", data, re.S)
            return (struct.unpack(">H", sof.group(2))[0], struct.unpack(">H", sof.group(1))[0]) if sof else None
        chunk = data[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + (bits >> 14 & 0x3FFF)
        return tuple(v & 0x3FFF for v in struct.unpack("<HH", data[26:30]))
    except struct.error:
        return None


def _image(block: dict, where: str, role: str) -> None:
    if role != "user":
        raise Rejected("You can only include images and documents if the role is user.")
    fmt = block.get("format")
    if fmt not in ("png", "jpeg", "gif", "webp"):
        raise Rejected(f"{where}.image.format: Member must satisfy enum value set: [png, jpeg, gif, webp]")
    source = block.get("source") or {}
    if set(source) != {"bytes"}:
        raise Rejected(f"{where}.image.source: exactly one of bytes, s3Location is required")
    data = base64.b64decode(source["bytes"])  # blobs travel base64-encoded in rest-json
    if len(data) > MAX_IMAGE_BYTES:
        raise Rejected(f"{where}.image.source.bytes: image exceeds 3.75 MB maximum")
    actual = image_kind(data)
    if actual != fmt:
        # Anthropic's wording, seen through Bedrock: "The image was specified using the image/png media type,
        # but the image appears to be a image/jpeg image"
        raise Rejected(
            f"{where}.image.source: The image was specified using the image/{fmt} media type, but "
            f"the image appears to be a image/{actual} image"
        )
    size = image_size(fmt, data)
    if size is None or max(size) > MAX_IMAGE_PIXELS:
        raise Rejected(f"{where}.image: image dimensions exceed max allowed size: {MAX_IMAGE_PIXELS} pixels")


def _tool_config(body: dict) -> tuple[dict, list[str]]:
    config = body.get("toolConfig")
    if config is None:
        return {}, []
    tools = config.get("tools")
    if not isinstance(tools, list) or not tools:
        raise Rejected("toolConfig.tools: Member must have length greater than or equal to 1")
    names = []
    for i, tool in enumerate(tools):
        if isinstance(tool, dict) and set(tool) == {"cachePoint"}:
            _cache_point(tool["cachePoint"], f"toolConfig.tools.{i}")
            continue
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if not isinstance(spec, dict) or set(tool) != {"toolSpec"}:
            raise Rejected(f"toolConfig.tools.{i}: exactly one of toolSpec, systemTool, cachePoint is required")
        name = spec.get("name")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise Rejected(
                f"toolConfig.tools.{i}.toolSpec.name: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+"
            )
        if "description" in spec and not (isinstance(spec["description"], str) and spec["description"]):
            raise Rejected(
                f"toolConfig.tools.{i}.toolSpec.description: Member must have length greater than or equal to 1"
            )
        schema = (spec.get("inputSchema") or {}).get("json")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise Rejected(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
        if name in names:
            raise Rejected("tools: Tool names must be unique.")
        names.append(name)
    choice = config.get("toolChoice")
    if choice is not None:
        if not isinstance(choice, dict) or len(choice) != 1 or next(iter(choice)) not in ("auto", "any", "tool"):
            raise Rejected("toolConfig.toolChoice: exactly one of auto, any, tool is required")
        if "tool" in choice and choice["tool"].get("name") not in names:
            raise Rejected(f"Tool '{choice['tool'].get('name')}' not found in the provided tools.")
    return config, names


def _messages(body: dict) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejected(
            "A conversation must start with a user message. Try again with a conversation that "
            "starts with a user message."
        )
    if messages[0].get("role") != "user":
        raise Rejected(
            "A conversation must start with a user message. Try again with a conversation that "
            "starts with a user message."
        )
    images = 0
    tool_blocks = False
    for i, message in enumerate(messages):
        role = message.get("role")
        if i and role == messages[i - 1].get("role"):
            raise Rejected(
                "A conversation must alternate between user and assistant roles. Make sure the "
                "conversation alternates between user and assistant roles and try again."
            )
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise Rejected(f"messages.{i}.content: Member must have length greater than or equal to 1")
        for j, block in enumerate(content):
            where = f"messages.{i}.content.{j}"
            if not isinstance(block, dict) or len(block) != 1:
                raise Rejected(f"{where}: exactly one member of ContentBlock must be set")
            ((kind, value),) = block.items()
            if kind == "text":
                if not value.strip():
                    raise Rejected(
                        f"The text field in the ContentBlock object at {where} is blank. Add text "
                        f"to the text field, and try again."
                    )
            elif kind == "image":
                images += 1
                _image(value, where, role)
            elif kind == "toolUse":
                tool_blocks = True
                if role != "assistant":
                    raise Rejected(f"{where}: toolUse blocks are only allowed in assistant messages")
                if not TOOL_USE_ID.fullmatch(value.get("toolUseId", "")) or not isinstance(value.get("input"), dict):
                    raise Rejected(f"{where}.toolUse: toolUseId must match [a-zA-Z0-9_.:-]+ and input be an object")
            elif kind == "toolResult":
                tool_blocks = True
                if role != "user":
                    raise Rejected(f"{where}: toolResult blocks are only allowed in user messages")
                for k, part in enumerate(value.get("content") or []):
                    if "text" in part and not part["text"].strip():
                        raise Rejected(
                            f"The text field in the ContentBlock object at {where}.toolResult.content.{k} "
                            f"is blank. Add text to the text field, and try again."
                        )
            elif kind != "reasoningContent":
                raise Rejected(f"{where}: content block {kind} is not supported by this stand-in")
    if images > MAX_IMAGES:
        raise Rejected(f"Too many images: at most {MAX_IMAGES} images are allowed.")
    if tool_blocks and body.get("toolConfig") is None:
        raise Rejected("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    for i, message in enumerate(messages):
        uses = [b["toolUse"]["toolUseId"] for b in message["content"] if "toolUse" in b]
        following = messages[i + 1]["content"] if i + 1 < len(messages) else []
        answered = {b["toolResult"]["toolUseId"] for b in following if "toolResult" in b}
        missing = [u for u in uses if u not in answered]
        if uses and missing and i + 1 < len(messages):
            # Anthropic's wording (see e.g. RooCodeInc/Roo-Code reports of this error)
            raise Rejected(
                f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                f"`tool_result` block in the next message."
            )
        results = [b["toolResult"]["toolUseId"] for b in message["content"] if "toolResult" in b]
        previous = {b["toolUse"]["toolUseId"] for b in messages[i - 1]["content"] if "toolUse" in b} if i else set()
        stray = [r for r in results if r not in previous]
        if stray:
            raise Rejected(
                f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{stray[0]}. Each `tool_result` block must have a corresponding `tool_use` block in "
                f"the previous message."
            )


def _thinking(body: dict) -> bool:
    """Validate Anthropic's extended thinking; whether it is enabled."""
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking")
    if thinking is None:
        return False
    if thinking.get("type") != "enabled":
        raise Rejected("thinking.type: Input should be 'enabled' or 'disabled'")
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        raise Rejected("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    inference = body.get("inferenceConfig") or {}
    if inference.get("maxTokens", 0) <= budget:
        raise Rejected("`max_tokens` must be greater than `thinking.budget_tokens`.")
    if inference.get("temperature") not in (None, 1):
        raise Rejected("`temperature` may only be set to 1 when thinking is enabled.")
    if inference.get("topP") is not None and inference["topP"] < 0.95:
        raise Rejected("`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled.")
    choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
    if "any" in choice or "tool" in choice:
        raise Rejected("Thinking may not be enabled when tool_choice forces tool use.")
    last = next((m for m in reversed(body["messages"]) if m["role"] == "assistant"), None)
    if last and any("toolUse" in b for b in last["content"]) and "reasoningContent" not in last["content"][0]:
        raise Rejected(
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            "`tool_use`. When `thinking` is enabled, a final `assistant` message must start with a "
            "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks)."
        )
    return True


def _cache_point(block: object, where: str) -> None:
    """botocore ``CachePointBlock``: ``type`` ``default`` (required), ``ttl`` ``5m`` or ``1h``."""
    if not isinstance(block, dict) or block.get("type") != "default" or set(block) - {"type", "ttl"}:
        raise Rejected(f"{where}.cachePoint.type: Member must satisfy enum value set: [default]")
    if block.get("ttl", "5m") not in ("5m", "1h"):
        raise Rejected(f"{where}.cachePoint.ttl: Member must satisfy enum value set: [5m, 1h]")


def _system(body: dict) -> None:
    for i, block in enumerate(body.get("system") or []):
        if not isinstance(block, dict) or len(block) != 1 or next(iter(block)) not in ("text", "cachePoint"):
            raise Rejected(f"system.{i}: exactly one of text, guardContent, cachePoint is required")
        if "cachePoint" in block:
            _cache_point(block["cachePoint"], f"system.{i}")


#: botocore bedrock-runtime 2023-09-30: GuardrailConfiguration (Converse) and GuardrailStreamConfiguration
#: (ConverseStream, which adds streamProcessingMode).
GUARDRAIL_KEYS = {"converse": {"guardrailIdentifier", "guardrailVersion", "trace"}}
GUARDRAIL_KEYS["converse-stream"] = GUARDRAIL_KEYS["converse"] | {"streamProcessingMode"}
GUARDRAIL_IDENTIFIER = re.compile(
    r"([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)"
)
GUARDRAIL_VERSION = re.compile(r"([1-9][0-9]{0,7})|(DRAFT)")
#: The blocked message of the stand-in's guardrails.
GUARDRAIL_BLOCKED = "Sorry, I can't help with that request."


def _guardrail(body: dict, operation: str) -> None:
    config = body.get("guardrailConfig")
    if config is None:
        return
    extra = set(config) - GUARDRAIL_KEYS[operation]
    if extra:
        raise Rejected(f"guardrailConfig: unknown member(s) {sorted(extra)}")
    if not GUARDRAIL_IDENTIFIER.fullmatch(config.get("guardrailIdentifier", "")):
        raise Rejected("guardrailConfig.guardrailIdentifier: Member must satisfy regular expression pattern")
    if not GUARDRAIL_VERSION.fullmatch(config.get("guardrailVersion", "")):
        raise Rejected("guardrailConfig.guardrailVersion: Member must satisfy regular expression pattern")
    if config.get("trace", "disabled") not in ("enabled", "disabled", "enabled_full"):
        raise Rejected("guardrailConfig.trace: Member must satisfy enum value set: [enabled, disabled, enabled_full]")
    if config.get("streamProcessingMode", "sync") not in ("sync", "async"):
        raise Rejected("guardrailConfig.streamProcessingMode: Member must satisfy enum value set: [sync, async]")


def validate_converse(body: dict, operation: str = "converse") -> tuple[dict, list[str], bool]:
    """Validate a Converse body as Bedrock does; (toolConfig, tool names, thinking enabled)."""
    config, names = _tool_config(body)
    _system(body)
    _messages(body)
    _guardrail(body, operation)
    return config, names, _thinking(body)


# --------------------------------------------------------------------------- answers


@dataclass
class Answer:
    """What the scripted model says for one request."""

    reasoning: list[str]
    chunks: list[str]
    tool_uses: list[ToolUse]
    stop_reason: str


def answer(b: Behaviour, config: dict, names: list[str], thinking: bool) -> Answer:
    choice = config.get("toolChoice") or {}
    uses = list(b.tool_uses)
    for use in uses:
        if use.name not in names:
            raise AssertionError(f"scripted tool {use.name!r} was not offered (tools: {names})")
    chunks = list(b.chunks)
    forced = "tool" in choice or "any" in choice
    if forced and not uses:
        uses = [ToolUse(choice["tool"]["name"] if "tool" in choice else names[0], b.forced_input)]
    if forced:
        chunks = []  # a forced tool call comes without text
    for n, use in enumerate(uses):
        if use.id is None:
            use.id = f"tooluse_standin{n:04d}"
    stop = "tool_use" if uses and b.stop_reason == "end_turn" else b.stop_reason
    return Answer(list(b.reasoning) if thinking else [], chunks, uses, stop)


def usage(b: Behaviour) -> dict:
    """``TokenUsage`` of a scripted answer (cache counts only when scripted)."""
    out = {"inputTokens": b.input_tokens, "outputTokens": b.output_tokens}
    cached = 0
    if b.cache_read_tokens is not None:
        out["cacheReadInputTokens"] = b.cache_read_tokens
        cached += b.cache_read_tokens
    if b.cache_write_tokens is not None:
        out["cacheWriteInputTokens"] = b.cache_write_tokens
        cached += b.cache_write_tokens
    out["totalTokens"] = b.input_tokens + b.output_tokens + cached
    return out


def _vector(text: str, dims: int) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = (seed * (dims * 4 // len(seed) + 1))[: dims * 4]
    return [round(v / 2**32, 6) for v in struct.unpack(f"<{dims}I", raw)]


class _Handler(StandInHandler):
    standin: BedrockStandIn
    prefix = "model"
    operations = ("converse", "converse-stream", "invoke")
    error_status = ERROR_STATUS

    def received(self, operation: str, name: str, body: dict) -> Received:
        return Received(operation, name, body, dict(self.headers))

    def respond(self, received: Received, behaviour: Behaviour) -> None:
        try:
            if received.operation == "invoke":
                self._invoke(received)
                return
            config, names, thinking = validate_converse(received.body, received.operation)
            if behaviour.guardrail_intervenes and "guardrailConfig" not in received.body:
                raise AssertionError("guardrail_intervenes is scripted, but the request carries no guardrailConfig")
        except Rejected as exc:
            self.send_aws_error("ValidationException", 400, {"message": str(exc)})
            return
        said = answer(behaviour, config, names, thinking)
        if behaviour.guardrail_intervenes:
            said = Answer([], [GUARDRAIL_BLOCKED], [], "guardrail_intervened")
        if received.operation == "converse":
            self._converse(behaviour, said)
        else:
            self._converse_stream(behaviour, said)

    def _converse(self, b: Behaviour, said: Answer) -> None:
        content: list[dict] = []
        if said.reasoning:
            content.append(
                {"reasoningContent": {"reasoningText": {"text": "".join(said.reasoning), "signature": SIGNATURE}}}
            )
        if said.chunks:
            content.append({"text": "".join(said.chunks)})
        content += [{"toolUse": {"toolUseId": u.id, "name": u.name, "input": u.input}} for u in said.tool_uses]
        self.send_json(
            {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": said.stop_reason,
                "usage": usage(b),
                "metrics": {"latencyMs": 1},
            }
        )

    def _converse_stream(self, b: Behaviour, said: Answer) -> None:
        self.start_event_stream()
        self.write_chunk(event("messageStart", {"role": "assistant"}))
        index = 0
        if said.reasoning:
            for piece in said.reasoning:
                self.write_chunk(
                    event(
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": piece}}},
                    )
                )
            self.write_chunk(
                event(
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": SIGNATURE}}},
                )
            )
            self.write_chunk(event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        for i, text in enumerate(said.chunks):
            if b.stream_exception and i == b.exception_after:
                break
            if b.stall_after is not None and i == b.stall_after:
                time.sleep(b.stall)
            frame = event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": text}})
            if i == 0:
                self.standin.first_delta_ns.append(time.perf_counter_ns())
            self.write_chunk(frame)
        if b.stream_exception:
            self.write_chunk(exception(b.stream_exception, b.error_message))
            self.end_event_stream()
            return
        if said.chunks:
            self.write_chunk(event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        for n, use in enumerate(said.tool_uses):
            frame = event(
                "contentBlockStart",
                {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": use.id, "name": use.name}}},
            )
            if n == 0:
                self.standin.first_tool_ns.append(time.perf_counter_ns())
            self.write_chunk(frame)
            for piece in use.pieces():
                if b.tool_stall:
                    time.sleep(b.tool_stall)
                self.write_chunk(
                    event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}})
                )
            self.write_chunk(event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        self.write_chunk(event("messageStop", {"stopReason": said.stop_reason}))
        self.write_chunk(
            event(
                "metadata",
                {"usage": usage(b), "metrics": {"latencyMs": 1}},
            )
        )
        self.end_event_stream()

    def _invoke(self, received: Received) -> None:
        """InvokeModel for the embedding models (body shapes: Bedrock User Guide model parameters)."""
        body, model = received.body, received.model_id
        if model.startswith("amazon.titan-embed-text-v2"):
            extra = set(body) - {"inputText", "dimensions", "normalize", "embeddingTypes"}
            if extra:
                raise Rejected(f"Malformed input request: extraneous key [{sorted(extra)[0]}] is not permitted")
            text = body.get("inputText")
            if not isinstance(text, str) or not text:
                raise Rejected("Malformed input request: #: required key [inputText] not found")
            dims = body.get("dimensions", 1024)
            if dims not in (256, 512, 1024):
                raise Rejected("Malformed input request: #/dimensions: 300 is not a valid enum value")
            vector = _vector(text, dims)
            tokens = len(text.split())
            self.send_json(
                {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": {"float": vector}},
                extra={"X-Amzn-Bedrock-Input-Token-Count": str(tokens)},
            )
        elif model.startswith("cohere.embed-"):
            texts = body.get("texts")
            if not isinstance(texts, list) or len(texts) > 96 or not all(isinstance(t, str) for t in texts):
                raise Rejected("Malformed input request: #/texts: expected maximum item count: 96")
            if any(len(t) > 2048 for t in texts):
                raise Rejected("Malformed input request: #/texts/0: expected maxLength: 2048")
            if body.get("input_type") not in COHERE_INPUT_TYPES:
                raise Rejected("Malformed input request: #: required key [input_type] not found")
            types = body.get("embedding_types")
            if types is not None and not (isinstance(types, list) and set(types) <= set(EMBEDDING_TYPES)):
                raise Rejected("Malformed input request: #/embedding_types: invalid value")
            vectors = [_vector(t, 1024) for t in texts]
            tokens = sum(len(t.split()) for t in texts)
            payload = {"id": "standin-embed", "texts": texts}
            if types:
                payload.update(embeddings={"float": vectors}, response_type="embeddings_by_type")
            else:
                payload.update(embeddings=vectors, response_type="embeddings_floats")
            self.send_json(payload, extra={"X-Amzn-Bedrock-Input-Token-Count": str(tokens)})
        else:
            raise Rejected("The provided model identifier is invalid.")


class BedrockStandIn(ScriptedStandIn):
    """A scriptable Bedrock Runtime server on 127.0.0.1 (ephemeral port)."""

    handler = _Handler
    behaviour = Behaviour
    name = "bedrock-standin"

    def __init__(self) -> None:
        #: perf_counter_ns() taken just before each stream's first text delta is written.
        self.first_delta_ns: list[int] = []
        #: perf_counter_ns() taken just before each stream's first toolUse contentBlockStart is written.
        self.first_tool_ns: list[int] = []
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.first_delta_ns.clear()
        self.first_tool_ns.clear()
