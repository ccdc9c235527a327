"""Gateway configuration, parsed from the ``GATEWAY_CONFIG`` environment variable.

The CDK construct writes a JSON document with exactly these keys::

    {
      "models": [{"alias": "chat-fast",
                  "target": {"type": "bedrock", "modelId": "..."},
                  "maxTokensCap": 4096, "defaultMaxTokens": 1024}],
      "limits": {"maxMessages": 64, "maxTotalChars": 200000, "maxRequestBytes": 1048576},
      "logContent": false,
      "metricsNamespace": "CdkLlmServing/Gateway",
      "serviceName": "bedrock-gateway"
    }

Any problem is reported as :class:`ConfigError` at start-up, never per request.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

ENV_VAR = "GATEWAY_CONFIG"

#: Target types this runtime can serve. "sagemaker" will be added later.
SUPPORTED_TARGET_TYPES = ("bedrock",)


class ConfigError(ValueError):
    """Raised when GATEWAY_CONFIG is missing or invalid."""


@dataclass(frozen=True)
class Target:
    """Where requests for a model alias are sent."""

    type: str
    model_id: str


@dataclass(frozen=True)
class ModelConfig:
    """One allowlisted model alias."""

    alias: str
    target: Target
    max_tokens_cap: int
    default_max_tokens: int


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


def _parse_model(raw: Any, index: int) -> ModelConfig:
    where = f"models[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"{ENV_VAR}: models[{index}] must be an object")
    alias = _require(raw, "alias", str, where)
    if not alias:
        raise ConfigError(f"{ENV_VAR}: {where}alias must not be empty")
    target = _require(raw, "target", dict, where)
    ttype = _require(target, "type", str, where + "target.")
    if ttype not in SUPPORTED_TARGET_TYPES:
        raise ConfigError(
            f"{ENV_VAR}: model '{alias}' has unsupported target.type '{ttype}' "
            f"(this runtime supports: {', '.join(SUPPORTED_TARGET_TYPES)})"
        )
    model_id = _require(target, "modelId", str, where + "target.")
    if not model_id:
        raise ConfigError(f"{ENV_VAR}: {where}target.modelId must not be empty")
    cap = _positive_int(raw, "maxTokensCap", where)
    default = _positive_int(raw, "defaultMaxTokens", where, default=min(cap, 1024))
    return ModelConfig(alias, Target(ttype, model_id), cap, min(default, cap))


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
    return GatewayConfig(models, limits, log_content, namespace, service)


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
