"""OpenAI embeddings compatibility: ``POST /v1/embeddings`` validation and response shape.

Request: ``model`` (an embedding alias; a chat alias is a 400 ``wrong_model_kind``),
``input`` (a non-empty string or a list of 1..:data:`MAX_INPUTS` non-empty strings;
token arrays are a 400), ``dimensions`` (Titan Text Embeddings V2: 256, 512 or 1024;
Cohere Embed v3: 1024 only), ``encoding_format`` (``float``, default, or ``base64``:
little-endian float32, what the ``openai`` SDK decodes), ``user`` (ignored), and for
Cohere aliases the non-OpenAI ``input_type`` (``search_document``, the default,
``search_query``, ``classification`` or ``clustering``).  The inputs together may hold
at most ``limits.maxTotalChars`` characters (413), each Cohere input at most 2048.

Response: ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
"model", "usage": {"prompt_tokens", "total_tokens"}}``.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from config import EMBEDDING, GatewayConfig, ModelConfig
from errors import invalid_request
from openai_compat import lookup_model

#: Inputs per request (Cohere Embed's per-call maximum; Titan is called once per input).
MAX_INPUTS = 96
SUPPORTED_FIELDS = frozenset({"model", "input", "dimensions", "encoding_format", "user", "input_type"})
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
#: Allowed ``dimensions`` per embedding family (Bedrock model parameters pages).
DIMENSIONS = {"titan-v2": (256, 512, 1024), "cohere-v3": (1024,)}
COHERE_MAX_CHARS = 2048


@dataclass(frozen=True)
class EmbeddingRequest:
    """A validated embeddings request."""

    model: ModelConfig
    inputs: tuple[str, ...]
    dimensions: int | None = None
    encoding_format: str = "float"
    input_type: str = "search_document"

    @property
    def alias(self) -> str:
        return self.model.alias


def _inputs(raw: Any, config: GatewayConfig, family: str | None) -> tuple[str, ...]:
    if raw is None:
        raise invalid_request("'input' is required.", param="input", code="missing_required_parameter")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise invalid_request(
            "'input' must be a non-empty string or a non-empty array of strings.", param="input", code="invalid_type"
        )
    if len(items) > MAX_INPUTS:
        raise invalid_request(
            f"'input' may hold at most {MAX_INPUTS} texts on this gateway; got {len(items)}.",
            param="input",
            code="too_many_inputs",
        )
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise invalid_request(
                "'input' must be text: token arrays are not supported by this gateway.",
                param="input",
                code="unsupported_parameter",
            )
        if not item.strip():
            raise invalid_request(f"'input[{i}]' must not be empty.", param="input", code="empty_content")
        if family == "cohere-v3" and len(item) > COHERE_MAX_CHARS:
            raise invalid_request(
                f"'input[{i}]' has {len(item)} characters; Cohere Embed accepts at most {COHERE_MAX_CHARS} per text.",
                param="input",
                code="input_too_long",
            )
    total = sum(map(len, items))
    if total > config.limits.max_total_chars:
        raise invalid_request(
            f"The inputs total {total} characters, more than this gateway's limit of {config.limits.max_total_chars}.",
            param="input",
            code="request_too_large",
            status=413,
        )
    return tuple(items)


def parse_embedding_request(body: Any, config: GatewayConfig) -> EmbeddingRequest:
    """Validate a decoded ``/v1/embeddings`` body; raises :class:`~errors.GatewayError`."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", code="invalid_json")
    for name, value in body.items():
        if name not in SUPPORTED_FIELDS and value is not None:
            raise invalid_request(
                f"Unsupported parameter: '{name}' is not supported by this gateway.",
                param=name,
                code="unsupported_parameter",
            )
    model = lookup_model(body, config, EMBEDDING)
    family = model.embedding_family
    inputs = _inputs(body.get("input"), config, family)
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if family is None:  # lookup_model(..., EMBEDDING) returns embedding aliases, which always have a family
            raise KeyError(family)
        allowed = DIMENSIONS[family]
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions not in allowed:
            raise invalid_request(
                f"'dimensions' must be one of {', '.join(map(str, allowed))} for model '{model.alias}'.",
                param="dimensions",
                code="invalid_value",
            )
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid_request(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format", code="invalid_value"
        )
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_request("'user' must be a string.", param="user", code="invalid_type")
    input_type = body.get("input_type") or "search_document"
    if family != "cohere-v3" and body.get("input_type") is not None:
        raise invalid_request(
            f"'input_type' is only supported on Cohere Embed models, not '{model.alias}'.",
            param="input_type",
            code="unsupported_parameter",
        )
    if input_type not in COHERE_INPUT_TYPES:
        raise invalid_request(
            f"'input_type' must be one of {', '.join(COHERE_INPUT_TYPES)}.", param="input_type", code="invalid_value"
        )
    return EmbeddingRequest(model, inputs, dimensions, encoding, input_type)


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def response(request: EmbeddingRequest, vectors: list[list[float]], input_tokens: int) -> dict[str, Any]:
    """The OpenAI ``CreateEmbeddingResponse``."""
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(v, request.encoding_format)}
            for i, v in enumerate(vectors)
        ],
        "model": request.alias,
        "usage": {"prompt_tokens": input_tokens, "total_tokens": input_tokens},
    }
