"""Gateway configuration, parsed from the ``GATEWAY_CONFIG`` environment variable.

The CDK construct writes a JSON document with exactly these keys::

    {
      "models": [
        {"alias": "chat-fast",
         "target": {"type": "bedrock", "modelId": "..."},
         "maxTokensCap": 4096, "defaultMaxTokens": 1024},
        {"alias": "rag",
         "target": {"type": "sagemaker", "endpointName": "my-endpoint",
                    "inferenceComponentName": "adapter-a", "containerKind": "lmi"},
         "maxTokensCap": 2048, "defaultMaxTokens": 512,
         "retrieval": {"knowledgeBaseId": "ABCDEFGHIJ", "numberOfResults": 5}},
        {"alias": "think", "reasoning": true,
         "target": {"type": "bedrock", "modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
         "maxTokensCap": 8192},
        {"alias": "embed", "kind": "embedding",
         "target": {"type": "bedrock", "modelId": "amazon.titan-embed-text-v2:0"}}
      ],
      "limits": {"maxMessages": 64, "maxTotalChars": 200000, "maxRequestBytes": 1048576},
      "imageUrlHosts": [],
      "corsAllowOrigins": ["https://app.example.com"],
      "logContent": false,
      "metricsNamespace": "CdkLlmServing/Gateway",
      "serviceName": "bedrock-gateway",
      "governance": {"table": "...", "auth": "apiKeys", "period": "day"}
    }

Optional keys of a model entry: ``kind`` (``chat``, the default, or ``embedding``: an
embedding alias served by ``POST /v1/embeddings``, Bedrock only, without the token keys;
its ``modelId`` must be a supported embedding model, see :data:`EMBEDDING_FAMILIES`) and
``reasoning`` (``true``: the Bedrock model takes Anthropic's extended-thinking budget, so
``reasoning_effort`` is honoured), ``guardrail`` (Bedrock only: ``{"identifier": <guardrail ID or ARN>,
"version": <number or DRAFT>, "trace"?: enabled|disabled|enabled_full, "streamProcessingMode"?: sync|async}``,
sent as ``guardrailConfig`` on every Converse call), ``promptCaching`` (Bedrock only: ``true`` adds
``cachePoint`` blocks after the system prompt and the tools) and ``fallback`` (other chat aliases tried in
order when the model is throttled, unavailable or times out before any byte was sent, see :mod:`fallback`).  Top-level ``imageUrlHosts`` (default ``[]``) lists the
hosts image URLs may be fetched from (see :mod:`images`); ``corsAllowOrigins`` (default ``[]``)
the browser origins answered with ``Access-Control-Allow-Origin`` (``["*"]`` for any origin);
``governance`` (default: absent) caller identity, API keys, budgets and usage (see :mod:`governance`).

Targets: ``bedrock`` needs ``modelId``; ``sagemaker`` needs ``endpointName`` and
optionally ``inferenceComponentName`` (both follow SageMaker's naming rules:
``^[a-zA-Z0-9](-*[a-zA-Z0-9])*$``, at most 63 characters) and ``containerKind``
(``lmi``, ``tgi``, ``vllm`` or ``custom``: the serving container, whose request
rules the SageMaker backend follows; absent means unknown, requests go unchanged).  ``retrieval`` is
optional on any alias: ``knowledgeBaseId`` (10 letters/digits) and
``numberOfResults`` (1..100, default 5).  ``target`` and ``retrieval`` objects
may not contain other keys (a misspelt key fails start-up instead of being
ignored); an optional key set to ``null`` counts as absent.

Any problem is reported as :class:`ConfigError` at start-up, never per request.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from governance import GovernanceConfig

ENV_VAR = "GATEWAY_CONFIG"

#: Target types this runtime can serve.
SUPPORTED_TARGET_TYPES = ("bedrock", "sagemaker")
#: Alias kinds: chat completions, or embeddings.
CHAT = "chat"
EMBEDDING = "embedding"
MODEL_KINDS = (CHAT, EMBEDDING)
#: Bedrock embedding models the runtime can call (InvokeModel body shapes differ per family):
#: model-ID prefix -> family.  Profile prefixes (``us.`` ...) are not used by these models.
EMBEDDING_FAMILIES = {
    "amazon.titan-embed-text-v2": "titan-v2",
    "cohere.embed-english-v3": "cohere-v3",
    "cohere.embed-multilingual-v3": "cohere-v3",
}
#: SageMaker ``containerKind`` values (the construct's ``ContainerKind`` values).
CONTAINER_KINDS = ("lmi", "tgi", "vllm", "custom")
#: SageMaker endpoint / inference component names (max 63 characters).
SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
SAGEMAKER_NAME_MAX = 63
#: Bedrock knowledge base ids.
KNOWLEDGE_BASE_ID = re.compile(r"[0-9a-zA-Z]{10}")
MAX_NUMBER_OF_RESULTS = 100
#: An ``imageUrlHosts`` entry: a host (HTTPS) or ``http(s)://host``, optionally with a port.
IMAGE_HOST = re.compile(r"(https?://)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?")


class ConfigError(ValueError):
    """Raised when GATEWAY_CONFIG is missing or invalid."""


@dataclass(frozen=True)
class Target:
    """Where requests for a model alias are sent.

    ``model_id`` is set for Bedrock targets; ``endpoint_name`` (and optionally
    ``inference_component_name`` and ``container_kind``) for SageMaker targets.
    """

    type: str
    model_id: str = ""
    endpoint_name: str = ""
    inference_component_name: str | None = None
    container_kind: str | None = None

    @property
    def display_id(self) -> str:
        """Identifier for logs and metrics: the model id, or ``endpoint[/component]``."""
        if self.type == "sagemaker":
            if self.inference_component_name:
                return f"{self.endpoint_name}/{self.inference_component_name}"
            return self.endpoint_name
        return self.model_id


@dataclass(frozen=True)
class Retrieval:
    """Retrieval (RAG) settings of one alias: a Bedrock knowledge base."""

    knowledge_base_id: str
    number_of_results: int = 5


@dataclass(frozen=True)
class Guardrail:
    """A Bedrock guardrail applied to every Converse call of an alias (``guardrailConfig``)."""

    identifier: str
    version: str
    trace: str = "disabled"
    stream_processing_mode: str = "sync"


#: botocore bedrock-runtime 2023-09-30: GuardrailTrace and GuardrailStreamProcessingMode enums.
GUARDRAIL_TRACES = ("enabled", "disabled", "enabled_full")
STREAM_PROCESSING_MODES = ("sync", "async")
#: GuardrailIdentifier (an ID or a guardrail ARN) and GuardrailVersion (a number or DRAFT).
GUARDRAIL_IDENTIFIER = re.compile(
    r"([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)"
)
GUARDRAIL_VERSION = re.compile(r"([1-9][0-9]{0,7})|(DRAFT)")


@dataclass(frozen=True)
class ModelConfig:
    """One allowlisted model alias (``kind`` :data:`CHAT` or :data:`EMBEDDING`)."""

    alias: str
    target: Target
    max_tokens_cap: int
    default_max_tokens: int
    retrieval: Retrieval | None = None
    kind: str = CHAT
    reasoning: bool = False
    guardrail: Guardrail | None = None
    prompt_caching: bool = False
    fallback: tuple[str, ...] = ()

    @property
    def embedding_family(self) -> str | None:
        """The embedding model family (:data:`EMBEDDING_FAMILIES`) of an embedding alias."""
        return embedding_family(self.target.model_id) if self.kind == EMBEDDING else None


def embedding_family(model_id: str) -> str | None:
    """The family of a Bedrock embedding model ID, or ``None`` if the runtime cannot call it."""
    for prefix, family in EMBEDDING_FAMILIES.items():
        if model_id == prefix or model_id.startswith(prefix + ":"):
            return family
    return None


@dataclass(frozen=True)
class Limits:
    """Request size limits enforced before anything reaches a backend."""

    max_messages: int = 64
    max_total_chars: int = 200_000
    max_request_bytes: int = 1_048_576


@dataclass(frozen=True)
class GatewayConfig:
    """The whole gateway configuration."""

    models: tuple[ModelConfig, ...]
    limits: Limits
    log_content: bool = False
    metrics_namespace: str = "CdkLlmServing/Gateway"
    service_name: str = "bedrock-gateway"
    image_url_hosts: tuple[str, ...] = ()
    cors_allow_origins: tuple[str, ...] = ()
    #: Keys, budgets and usage (``governance`` object, see :mod:`governance`); ``None``: off.
    governance: GovernanceConfig | None = None

    def model(self, alias: str) -> ModelConfig | None:
        """Return the model for ``alias`` or ``None`` if it is not allowlisted."""
        for m in self.models:
            if m.alias == alias:
                return m
        return None


def _require(obj: Mapping[str, Any], key: str, kind: type | tuple, where: str) -> Any:
    if key not in obj:
        raise ConfigError(f"{ENV_VAR}: missing required key '{where}{key}'")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{ENV_VAR}: '{where}{key}' has the wrong type ({type(value).__name__})")
    return value


def _positive_int(obj: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    if default is not None and key not in obj:
        return default
    value = _require(obj, key, int, where)
    if value <= 0:
        raise ConfigError(f"{ENV_VAR}: '{where}{key}' must be a positive integer")
    return value


def _check_keys(obj: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise ConfigError(f"{ENV_VAR}: unknown key(s) {unknown} in '{where}' (allowed: {', '.join(allowed)})")


def _sagemaker_name(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _require(obj, key, str, where)
    if len(value) > SAGEMAKER_NAME_MAX or not SAGEMAKER_NAME.fullmatch(value):
        raise ConfigError(
            f"{ENV_VAR}: '{where}{key}' ({value!r}) is not a valid SageMaker name "
            f"(letters, digits and hyphens, starting and ending with a letter or digit; "
            f"at most {SAGEMAKER_NAME_MAX} characters)"
        )
    return value


def _parse_target(raw: Mapping[str, Any], alias: str, where: str) -> Target:
    target = _require(raw, "target", dict, where)
    where += "target."
    ttype = _require(target, "type", str, where)
    if ttype not in SUPPORTED_TARGET_TYPES:
        raise ConfigError(
            f"{ENV_VAR}: model '{alias}' has unsupported target.type '{ttype}' "
            f"(this runtime supports: {', '.join(SUPPORTED_TARGET_TYPES)})"
        )
    if ttype == "bedrock":
        _check_keys(target, ("type", "modelId"), where[:-1])
        model_id = _require(target, "modelId", str, where)
        if not model_id:
            raise ConfigError(f"{ENV_VAR}: {where}modelId must not be empty")
        return Target(ttype, model_id=model_id)
    _check_keys(target, ("type", "endpointName", "inferenceComponentName", "containerKind"), where[:-1])
    endpoint = _sagemaker_name(target, "endpointName", where)
    component = None
    if target.get("inferenceComponentName") is not None:
        component = _sagemaker_name(target, "inferenceComponentName", where)
    kind = None
    if target.get("containerKind") is not None:
        kind = _require(target, "containerKind", str, where)
        if kind not in CONTAINER_KINDS:
            raise ConfigError(
                f"{ENV_VAR}: '{where}containerKind' ({kind!r}) must be one of {', '.join(CONTAINER_KINDS)}"
            )
    return Target(ttype, endpoint_name=endpoint, inference_component_name=component, container_kind=kind)


def _parse_retrieval(raw: Mapping[str, Any], where: str) -> Retrieval | None:
    if raw.get("retrieval") is None:
        return None
    settings = _require(raw, "retrieval", dict, where)
    where += "retrieval."
    _check_keys(settings, ("knowledgeBaseId", "numberOfResults"), where[:-1])
    kb_id = _require(settings, "knowledgeBaseId", str, where)
    if not KNOWLEDGE_BASE_ID.fullmatch(kb_id):
        raise ConfigError(
            f"{ENV_VAR}: '{where}knowledgeBaseId' ({kb_id!r}) must be a knowledge base "
            f"id of exactly 10 letters and digits"
        )
    count = Retrieval.number_of_results
    if settings.get("numberOfResults") is not None:
        count = _positive_int(settings, "numberOfResults", where)
        if count > MAX_NUMBER_OF_RESULTS:
            raise ConfigError(f"{ENV_VAR}: '{where}numberOfResults' must be between 1 and {MAX_NUMBER_OF_RESULTS}")
    return Retrieval(kb_id, count)


def _parse_embedding(raw: Mapping[str, Any], alias: str, target: Target, where: str) -> ModelConfig:
    _check_keys(raw, ("alias", "kind", "target"), where[:-1])
    if target.type != "bedrock" or embedding_family(target.model_id) is None:
        raise ConfigError(
            f"{ENV_VAR}: embedding model '{alias}' must target a Bedrock embedding model "
            f"({', '.join(EMBEDDING_FAMILIES)}), got {target.display_id!r}"
        )
    return ModelConfig(alias, target, 0, 0, kind=EMBEDDING)


def _parse_model(raw: Any, index: int) -> ModelConfig:
    where = f"models[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"{ENV_VAR}: models[{index}] must be an object")
    alias = _require(raw, "alias", str, where)
    if not alias:
        raise ConfigError(f"{ENV_VAR}: {where}alias must not be empty")
    kind = raw.get("kind") if raw.get("kind") is not None else CHAT
    if kind not in MODEL_KINDS:
        raise ConfigError(f"{ENV_VAR}: '{where}kind' ({kind!r}) must be one of {', '.join(MODEL_KINDS)}")
    target = _parse_target(raw, alias, where)
    if kind == EMBEDDING:
        return _parse_embedding(raw, alias, target, where)
    cap = _positive_int(raw, "maxTokensCap", where)
    default = _positive_int(raw, "defaultMaxTokens", where, default=min(cap, 1024))
    reasoning = raw.get("reasoning", False)
    if reasoning is None:
        reasoning = False
    if not isinstance(reasoning, bool):
        raise ConfigError(f"{ENV_VAR}: '{where}reasoning' must be a boolean")
    if reasoning and target.type != "bedrock":
        raise ConfigError(f"{ENV_VAR}: '{where}reasoning' is only supported on Bedrock targets")
    guardrail = _parse_guardrail(raw, where)
    caching = raw.get("promptCaching") or False
    if not isinstance(caching, bool):
        raise ConfigError(f"{ENV_VAR}: '{where}promptCaching' must be a boolean")
    if (guardrail is not None or caching) and target.type != "bedrock":
        raise ConfigError(f"{ENV_VAR}: '{where}guardrail' and 'promptCaching' are only supported on Bedrock targets")
    fallback = raw.get("fallback") or []
    if not isinstance(fallback, list) or not all(isinstance(f, str) and f for f in fallback):
        raise ConfigError(f"{ENV_VAR}: '{where}fallback' must be a list of alias names")
    return ModelConfig(
        alias,
        target,
        cap,
        min(default, cap),
        _parse_retrieval(raw, where),
        reasoning=reasoning,
        guardrail=guardrail,
        prompt_caching=caching,
        fallback=tuple(fallback),
    )


def _parse_guardrail(raw: Mapping[str, Any], where: str) -> Guardrail | None:
    if raw.get("guardrail") is None:
        return None
    settings = _require(raw, "guardrail", dict, where)
    where += "guardrail."
    _check_keys(settings, ("identifier", "version", "trace", "streamProcessingMode"), where[:-1])
    identifier = _require(settings, "identifier", str, where)
    version = _require(settings, "version", str, where)
    if not GUARDRAIL_IDENTIFIER.fullmatch(identifier) or not GUARDRAIL_VERSION.fullmatch(version):
        raise ConfigError(
            f"{ENV_VAR}: '{where}identifier' must be a guardrail ID or ARN and '{where}version' a number or DRAFT,"
            f" got {identifier!r} and {version!r}"
        )
    trace = settings.get("trace") or "disabled"
    mode = settings.get("streamProcessingMode") or "sync"
    if trace not in GUARDRAIL_TRACES or mode not in STREAM_PROCESSING_MODES:
        raise ConfigError(
            f"{ENV_VAR}: '{where}trace' must be one of {', '.join(GUARDRAIL_TRACES)} and"
            f" '{where}streamProcessingMode' one of {', '.join(STREAM_PROCESSING_MODES)}"
        )
    return Guardrail(identifier, version, trace, mode)


def parse_config(data: Mapping[str, Any]) -> GatewayConfig:
    """Validate a decoded GATEWAY_CONFIG document and build a :class:`GatewayConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{ENV_VAR} must be a JSON object")
    raw_models = _require(data, "models", list, "")
    if not raw_models:
        raise ConfigError(f"{ENV_VAR}: 'models' must list at least one model")
    models = tuple(_parse_model(m, i) for i, m in enumerate(raw_models))
    aliases = [m.alias for m in models]
    if len(set(aliases)) != len(aliases):
        raise ConfigError(f"{ENV_VAR}: duplicate model alias in {aliases}")
    chat = {m.alias for m in models if m.kind == CHAT}
    for m in models:
        unknown = [f for f in m.fallback if f not in chat or f == m.alias]
        if unknown:
            raise ConfigError(f"{ENV_VAR}: fallback of '{m.alias}' names {unknown}, which are not other chat aliases")
    raw_limits = data.get("limits", {})
    if not isinstance(raw_limits, dict):
        raise ConfigError(f"{ENV_VAR}: 'limits' must be an object")
    d = Limits()
    limits = Limits(
        max_messages=_positive_int(raw_limits, "maxMessages", "limits.", d.max_messages),
        max_total_chars=_positive_int(raw_limits, "maxTotalChars", "limits.", d.max_total_chars),
        max_request_bytes=_positive_int(raw_limits, "maxRequestBytes", "limits.", d.max_request_bytes),
    )
    log_content = data.get("logContent", False)
    if not isinstance(log_content, bool):
        raise ConfigError(f"{ENV_VAR}: 'logContent' must be a boolean")
    namespace = data.get("metricsNamespace", GatewayConfig.metrics_namespace)
    service = data.get("serviceName", GatewayConfig.service_name)
    if not isinstance(namespace, str) or not namespace or not isinstance(service, str) or not service:
        raise ConfigError(f"{ENV_VAR}: 'metricsNamespace' and 'serviceName' must be non-empty strings")
    hosts = data.get("imageUrlHosts") or []
    if not isinstance(hosts, list) or not all(isinstance(h, str) and IMAGE_HOST.fullmatch(h) for h in hosts):
        raise ConfigError(
            f"{ENV_VAR}: 'imageUrlHosts' must be a list of hosts like 'images.example.com', "
            f"'host:8443' or 'http://host:8080' (no paths), got {hosts!r}"
        )
    origins = data.get("corsAllowOrigins") or []
    if not isinstance(origins, list) or not all(isinstance(o, str) and o for o in origins):
        raise ConfigError(
            f"{ENV_VAR}: 'corsAllowOrigins' must be a list of origins like "
            f"'https://app.example.com' (or ['*']), got {origins!r}"
        )
    import governance  # imported here: governance.py imports ConfigError from this module

    gov = governance.parse_governance(data.get("governance"), frozenset(aliases))
    return GatewayConfig(models, limits, log_content, namespace, service, tuple(hosts), tuple(origins), gov)


def load_config(environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and parse ``GATEWAY_CONFIG`` from ``environ`` (default: ``os.environ``)."""
    environ = os.environ if environ is None else environ
    text = environ.get(ENV_VAR)
    if not text:
        raise ConfigError(f"environment variable {ENV_VAR} is not set; the gateway cannot start")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{ENV_VAR} is not valid JSON: {exc}") from exc
    return parse_config(data)
