"""Typed model allowlist and the runtime configuration the gateway Lambda reads.

Pure Python (no CDK imports): the construct, the stacks and the local runner
(``make gateway``) all build the same ``GATEWAY_CONFIG`` document from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Geography prefixes of system-defined (cross-Region) inference profile IDs.
INFERENCE_PROFILE_GEOS = ("us", "eu", "apac", "global", "jp", "au", "ca", "us-gov")

_ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_FOUNDATION_MODEL_RE = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9][A-Za-z0-9.:_-]*$")

#: Lambda caps the total size of environment variables at 4 KB.
MAX_RUNTIME_CONFIG_BYTES = 3500


@dataclass(frozen=True, kw_only=True)
class BedrockModelAlias:
    """One entry of the gateway's model allowlist: an alias clients send as ``model``.

    The gateway's IAM role is generated from these entries: it can invoke exactly these
    inference profiles and foundation models and nothing else of Bedrock.
    """

    alias: str
    """Name clients pass as ``model`` (e.g. ``"chat-fast"``). Letters, digits, ``.``, ``_``, ``:``, ``-``; at most 64."""

    model_id: str
    """A Bedrock foundation-model ID (``anthropic.claude-...``) or a system-defined cross-Region
    inference profile ID (``us.anthropic.claude-...``, ``global.…``). Profiles are recommended:
    they raise throughput and survive regional capacity shortfalls."""

    max_tokens_cap: int = 4096
    """Upper bound on ``maxTokens`` sent to Bedrock, whatever the client asks for. Default: 4096."""

    default_max_tokens: int = 1024
    """``maxTokens`` used when the client sends neither ``max_tokens`` nor ``max_completion_tokens``.
    Bedrock reserves input + maxTokens of your tokens-per-minute quota per request, so keep it modest.
    Default: 1024."""

    @property
    def geo(self) -> str | None:
        """Geography prefix if ``model_id`` is an inference profile ID, else ``None``."""
        head, _, rest = self.model_id.partition(".")
        return head if head in INFERENCE_PROFILE_GEOS and rest else None

    @property
    def is_inference_profile(self) -> bool:
        return self.geo is not None

    @property
    def foundation_model_id(self) -> str:
        """The foundation model the alias ultimately runs (profile prefix stripped)."""
        return self.model_id.split(".", 1)[1] if self.is_inference_profile else self.model_id

    def problems(self) -> list[str]:
        """Everything wrong with this entry, one sentence each (empty when valid)."""
        out: list[str] = []
        where = f"model alias {self.alias!r}"
        if not _ALIAS_RE.match(self.alias):
            out.append(f"{where}: alias must match {_ALIAS_RE.pattern} (letters, digits, '.', '_', ':', '-'; at most 64)")
        if self.model_id.startswith("arn:"):
            out.append(f"{where}: model_id must be a model or inference profile ID, not an ARN ({self.model_id!r})")
        elif not _FOUNDATION_MODEL_RE.match(self.foundation_model_id):
            out.append(
                f"{where}: model_id {self.model_id!r} is not a Bedrock model ID like 'anthropic.claude-3-haiku-20240307-v1:0'"
                f" or an inference profile ID like 'us.anthropic.claude-3-haiku-20240307-v1:0'"
                f" (profile prefixes: {', '.join(INFERENCE_PROFILE_GEOS)})"
            )
        if not 1 <= self.max_tokens_cap <= 1_000_000:
            out.append(f"{where}: max_tokens_cap must be between 1 and 1000000, got {self.max_tokens_cap}")
        if not 1 <= self.default_max_tokens <= self.max_tokens_cap:
            out.append(
                f"{where}: default_max_tokens must be between 1 and max_tokens_cap ({self.max_tokens_cap}),"
                f" got {self.default_max_tokens}"
            )
        return out

    def to_runtime(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "target": {"type": "bedrock", "modelId": self.model_id},
            "maxTokensCap": self.max_tokens_cap,
            "defaultMaxTokens": self.default_max_tokens,
        }


@dataclass(frozen=True, kw_only=True)
class GatewayLimits:
    """Request limits the gateway enforces before calling a model."""

    max_messages: int = 64
    """Most messages accepted in one request (400 above). Default: 64."""

    max_total_chars: int = 200_000
    """Most characters of message text in one request (413 above). Default: 200000."""

    max_request_bytes: int = 1_048_576
    """Largest request body in bytes (413 above). Default: 1 MiB (API Gateway allows 10 MB)."""

    def problems(self) -> list[str]:
        out: list[str] = []
        if not 1 <= self.max_messages <= 10_000:
            out.append(f"limits.max_messages must be between 1 and 10000, got {self.max_messages}")
        if not 1 <= self.max_total_chars <= 10_000_000:
            out.append(f"limits.max_total_chars must be between 1 and 10000000, got {self.max_total_chars}")
        if not 1024 <= self.max_request_bytes <= 10_485_760:
            out.append(
                f"limits.max_request_bytes must be between 1024 and 10485760 (API Gateway's 10 MB payload limit),"
                f" got {self.max_request_bytes}"
            )
        return out


def model_problems(models: Sequence[BedrockModelAlias]) -> list[str]:
    """Problems of the allowlist as a whole and of each entry."""
    out: list[str] = []
    if not models:
        out.append("models must contain at least one BedrockModelAlias")
    seen: set[str] = set()
    for m in models:
        if m.alias in seen:
            out.append(f"model alias {m.alias!r} appears more than once; aliases must be unique")
        seen.add(m.alias)
        out.extend(m.problems())
    return out


def runtime_config(
    *,
    models: Sequence[BedrockModelAlias],
    limits: GatewayLimits,
    log_content: bool,
    metrics_namespace: str,
    service_name: str,
) -> dict[str, Any]:
    """The ``GATEWAY_CONFIG`` document read by ``lambda/gateway/config.py``."""
    return {
        "models": [m.to_runtime() for m in models],
        "limits": {
            "maxMessages": limits.max_messages,
            "maxTotalChars": limits.max_total_chars,
            "maxRequestBytes": limits.max_request_bytes,
        },
        "logContent": log_content,
        "metricsNamespace": metrics_namespace,
        "serviceName": service_name,
    }


def runtime_config_json(config: dict[str, Any]) -> str:
    """Compact, key-sorted JSON (deterministic templates)."""
    return json.dumps(config, separators=(",", ":"), sort_keys=True)
