"""LoraStack: one base model serving many fine-tuned LoRA adapters, behind the same gateway as Bedrock models
(seed 003, re:Invent AIM313: "1 base model and 100 adapters — 95% reduction in cost").

A :class:`LoraAdapterFleet` (base model + one inference component per adapter, autoscaled base copies, per-adapter
metrics and a dashboard) and one :class:`BedrockGatewayApi` whose allowlist holds Bedrock aliases and adapter
aliases side by side: clients pick a Bedrock model or a tenant's adapter with the OpenAI ``model`` field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_serving import (
    AdapterAlarmOptions,
    AdapterStore,
    AutoScalingOptions,
    BedrockGatewayApi,
    BedrockModelAlias,
    GatewayAuth,
    InferenceComponentOptions,
    LlmContainer,
    LoraAdapter,
    LoraAdapterFleet,
    LoraOptions,
    ModelAlias,
    ModelSource,
    PropsValidationError,
    SageMakerModelAlias,
)
from cdk_llm_serving.lora_fleet import (
    DEFAULT_ADAPTER_STACKS,
    DEFAULT_FLEET_AUTOSCALING,
    DEFAULT_FLEET_INSTANCE_TYPE,
    default_lora_container,
)

from ._common import alarm_topic
from .chat_stack import DEFAULT_CHAT_MODELS, parse_bedrock_models
from .settings import settings_from_context

# Defaults come from the library, so the flat settings cannot drift from the construct's own defaults.
_LORA = default_lora_container().lora or LoraOptions()
_SCALING = DEFAULT_FLEET_AUTOSCALING


@dataclass(frozen=True, kw_only=True)
class AdapterSetting:
    """One adapter of :class:`LoraStack` and how the gateway exposes it."""

    name: str
    """Adapter name (its inference component is ``<fleet prefix>-<name>``)."""
    artifact: str | None = None
    """The adapter's .tar.gz under ``adapter_prefix`` (adapter_config.json and adapter_model.safetensors at its root).
    Default: ``<name>/adapter.tar.gz``"""
    rank: int | None = None
    """LoRA rank, checked against ``max_lora_rank``. Default: unchecked"""
    alias: str | None = None
    """Gateway alias (OpenAI ``model``). Default: the adapter name"""
    gateway: bool = True
    """Route a gateway alias to it (the gateway's allowlist fits in a 4 KB environment variable: a few dozen
    aliases at most). Default: true"""

    @property
    def gateway_alias(self) -> str:
        return self.alias or self.name


DEFAULT_ADAPTERS: tuple[AdapterSetting, ...] = (
    AdapterSetting(name="support", rank=16),
    AdapterSetting(name="legal", rank=16),
    AdapterSetting(name="sql", rank=8, alias="text-to-sql"),
)


@dataclass(frozen=True, kw_only=True)
class LoraSettings:
    """Settings of :class:`LoraStack`, read from cdk.json context ``lora``."""

    weights_bucket_name: str = "cdk-llm-serving-model-weights"
    """Existing bucket in the deploying account holding the base weights and the adapters (reads are conditioned on
    ``aws:ResourceAccount``, so a bucket of that name in another account is never read). Set it to your bucket.
    Default: cdk-llm-serving-model-weights"""
    base_model_prefix: str = "qwen2.5-7b-instruct/"
    """Folder of the base weights (uncompressed Hugging Face snapshot). Default: qwen2.5-7b-instruct/"""
    adapter_prefix: str = "lora-adapters/qwen2.5-7b-instruct/"
    """Folder of the adapters (``<prefix><name>/adapter.tar.gz`` each); the role reads exactly this prefix.
    Default: lora-adapters/qwen2.5-7b-instruct/"""
    adapters: tuple[AdapterSetting, ...] = DEFAULT_ADAPTERS
    """``[{"name", "artifact"?, "rank"?, "alias"?, "gateway"?}]``. Default: support, legal, sql (alias text-to-sql)"""
    bedrock_models: tuple[BedrockModelAlias, ...] = DEFAULT_CHAT_MODELS[:1]
    """Bedrock aliases next to the adapters, as ChatStack's ``models``. Default: chat-fast (Claude Haiku 4.5)"""
    base_alias: str = "lora-base"
    """Gateway alias of the base model without adapter; ``""`` exposes none. Default: lora-base"""
    instance_type: str = DEFAULT_FLEET_INSTANCE_TYPE
    """Default: ml.g5.12xlarge (4 × A10G: four 1-GPU copies of a 7-8B model)"""
    instance_count: int = 1
    """Initial instances (the managed-scaling minimum unless scale_to_zero). Default: 1"""
    max_copies: int = _SCALING.max_capacity
    """Most base copies (instances follow). Default: 4"""
    target_concurrent_requests_per_copy: float = _SCALING.target_concurrent_requests or 5.0
    """Autoscaling target. Default: 5"""
    scale_to_zero: bool = False
    """Release every copy and instance when idle; the first requests then fail for minutes. Default: false"""
    max_loras: int = _LORA.max_loras
    """Adapters in GPU memory at once. Default: 8"""
    max_lora_rank: int = _LORA.max_lora_rank
    """Highest adapter rank accepted. Default: 16"""
    max_cpu_loras: int = _LORA.max_cpu_loras or _LORA.max_loras
    """Adapters cached in host memory. Default: 64"""
    max_model_len: int = 8192
    """Context length served. Default: 8192"""
    adapter_stacks: int = DEFAULT_ADAPTER_STACKS
    """Nested stacks holding the adapter components (fixed for the stack's life). Default: 4"""
    adapter_alarms: bool = False
    """One 5XX alarm per adapter (USD 0.10 per alarm-month). Default: false"""
    max_tokens_cap: int = 2048
    """Cap on generated tokens for the SageMaker aliases. Default: 2048"""

    def problems(self) -> list[str]:
        out: list[str] = []
        for name in ("base_model_prefix", "adapter_prefix"):
            value = getattr(self, name)
            if not value.endswith("/") or value.startswith("/") or value == "/":
                out.append(f"setting {name!r} must be a folder like 'models/base/', got {value!r}")
        if self.base_model_prefix.startswith(self.adapter_prefix) or self.adapter_prefix.startswith(
            self.base_model_prefix
        ):
            out.append(
                "settings 'base_model_prefix' and 'adapter_prefix' must not contain each other "
                "(the role reads each prefix for its own purpose)"
            )
        if not 1 <= self.max_copies <= 100:
            out.append(f"setting 'max_copies' must be between 1 and 100, got {self.max_copies}")
        if self.target_concurrent_requests_per_copy <= 0:
            out.append(
                f"setting 'target_concurrent_requests_per_copy' must be positive, got {self.target_concurrent_requests_per_copy}"
            )
        aliases = [a.gateway_alias for a in self.adapters if a.gateway] + [m.alias for m in self.bedrock_models]
        aliases += [self.base_alias] if self.base_alias else []
        duplicates = sorted({a for a in aliases if aliases.count(a) > 1})
        if duplicates:
            out.append(f"gateway aliases must be unique; used more than once: {', '.join(duplicates)}")
        return out

    @classmethod
    def from_context(cls, raw: Any) -> LoraSettings:
        """Parse and check the ``lora`` context value; every problem is reported at once."""
        settings = settings_from_context(
            cls, raw, context_key="lora", parsers={"adapters": _parse_adapters, "bedrock_models": parse_bedrock_models}
        )
        problems = settings.problems()
        if problems:
            raise PropsValidationError("cdk.json context 'lora'", problems)
        return settings


def _parse_adapters(raw: Any, problems: list[str]) -> tuple[AdapterSetting, ...]:
    """Each item is parsed like a settings object of its own (names, types, unknown keys)."""
    if not isinstance(raw, list):
        problems.append(
            'setting \'adapters\' must be a list of {"name": ..., "artifact"?, "rank"?, "alias"?, "gateway"?} objects'
        )
        return ()
    out: list[AdapterSetting] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or "name" not in item:
            problems.append(f"adapters[{i}] must be an object with at least 'name'")
            continue
        try:
            out.append(settings_from_context(AdapterSetting, item, context_key=f"lora.adapters[{i}]"))
        except PropsValidationError as err:
            problems.extend(f"adapters[{i}]: {p}" for p in err.problems)
    return tuple(out)


class LoraStack(cdk.Stack):
    """A LoRA adapter fleet and Bedrock models behind one OpenAI-compatible gateway (IAM auth)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: LoraSettings | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "description",
            "cdk-llm-serving: LoRA adapter fleet (one base model, many adapters) and Bedrock "
            "models behind one OpenAI-compatible gateway",
        )
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or LoraSettings()
        self.settings = settings

        self.alarm_topic = alarm_topic(self, "LoraStack")
        self.fleet = self._fleet(settings)
        models = self._models(settings)
        self.gateway = BedrockGatewayApi(
            self, "Gateway", models=models, auth=GatewayAuth.iam(), alarm_topic=self.alarm_topic
        )
        self._outputs(models)

    def _fleet(self, settings: LoraSettings) -> LoraAdapterFleet:
        weights = s3.Bucket.from_bucket_name(self, "Weights", settings.weights_bucket_name)
        return LoraAdapterFleet(
            self,
            "Fleet",
            base_model=ModelSource.s3_prefix(weights, settings.base_model_prefix),
            adapter_store=AdapterStore(weights, settings.adapter_prefix),
            adapters=[LoraAdapter(name=a.name, artifact=a.artifact, rank=a.rank) for a in settings.adapters],
            container=LlmContainer.lmi(
                tensor_parallel_degree=1,
                max_model_len=settings.max_model_len,
                lora=LoraOptions(
                    max_loras=settings.max_loras,
                    max_lora_rank=settings.max_lora_rank,
                    max_cpu_loras=settings.max_cpu_loras,
                ),
            ),
            instance_type=settings.instance_type,
            instance_count=settings.instance_count,
            base_component=InferenceComponentOptions(accelerators=1, min_memory_mb=16 * 1024),
            autoscaling=AutoScalingOptions(
                min_capacity=1,
                max_capacity=settings.max_copies,
                target_concurrent_requests=settings.target_concurrent_requests_per_copy,
                scale_to_zero=settings.scale_to_zero,
            ),
            alarm_topic=self.alarm_topic,
            adapter_alarms=AdapterAlarmOptions() if settings.adapter_alarms else None,
            adapter_stacks=settings.adapter_stacks,
        )

    def _models(self, settings: LoraSettings) -> list[ModelAlias]:
        """One allowlist: Bedrock aliases and adapter aliases side by side (and the bare base model)."""
        fleet, cap = self.fleet, settings.max_tokens_cap
        models: list[ModelAlias] = list(settings.bedrock_models)
        models += [
            SageMakerModelAlias.for_endpoint(
                alias=a.gateway_alias,
                endpoint=fleet.adapter(a.name),
                max_tokens_cap=cap,
                default_max_tokens=min(512, cap),
            )
            for a in settings.adapters
            if a.gateway
        ]
        if settings.base_alias:
            models.append(
                SageMakerModelAlias.for_endpoint(
                    alias=settings.base_alias, endpoint=fleet, max_tokens_cap=cap, default_max_tokens=min(512, cap)
                )
            )
        return models

    def _outputs(self, models: list[ModelAlias]) -> None:
        gw, fleet = self.gateway, self.fleet
        cdk.CfnOutput(
            self, "OpenAIBaseUrl", value=gw.openai_base_url, description="base_url for OpenAI SDKs (SigV4 auth)"
        )
        cdk.CfnOutput(self, "EndpointName", value=fleet.endpoint_name)
        cdk.CfnOutput(self, "BaseComponentName", value=fleet.inference_component_name or "")
        cdk.CfnOutput(
            self,
            "AdapterComponents",
            description="adapter name=inference component name",
            value=",".join(f"{n}={c}" for n, c in fleet.adapter_component_names.items()) or "-",
        )
        cdk.CfnOutput(self, "ModelAliases", value=",".join(m.alias for m in models))
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        if fleet.dashboard is not None:
            cdk.CfnOutput(self, "DashboardName", value=fleet.dashboard.dashboard_name)
