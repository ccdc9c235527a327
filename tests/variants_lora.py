"""Test-only LoraAdapterFleet stacks (the app's LoraStack is the fourth shape).

Synthesized in the session app next to the real stacks, so each gets snapshot, cdk-nag and cfn-lint checks
(their nested adapter stacks are linted and snapshotted by tests/test_lora_fleet.py).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from cdk_llm_serving import (
    AdapterAlarmOptions,
    AdapterPackaging,
    AdapterStore,
    AlarmOptions,
    AutoScalingOptions,
    DeploymentOptions,
    InferenceComponentOptions,
    LlmContainer,
    LoraAdapter,
    LoraAdapterFleet,
    LoraOptions,
    ModelSource,
)
from cdk_llm_serving._nag import acknowledge, nag_resource

#: Buckets owned by another team (imported, not created).
WEIGHTS_BUCKET = "example-llm-weights"
ADAPTER_BUCKET = "example-lora-adapters"
ADAPTER_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

#: Adapters of LoraComponentsStack: tarballs at the default and explicit keys, and a full s3:// URL.
COMPONENT_ADAPTERS = (
    LoraAdapter(name="support", rank=16),
    LoraAdapter(name="legal", artifact="legal/v3/adapter.tar.gz", rank=8),
    LoraAdapter(name="sql", artifact="sql/adapter.tar.gz"),
    LoraAdapter(name="fr-FR", artifact=f"s3://{ADAPTER_BUCKET}/tenants/fr-FR/adapter.tar.gz"),
    LoraAdapter(name="de-DE"),
    LoraAdapter(name="tenant-0001"),
    LoraAdapter(name="tenant-0002"),
)


class LoraComponentsStack(cdk.Stack):
    """Adapter inference components in 2 nested stacks: LMI, an SSE-KMS adapter bucket, scale to zero (every
    adapter can wake the base), per-adapter alarms to a topic, rolling updates, per-adapter and fleet grants."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        weights = s3.Bucket.from_bucket_name(self, "Weights", WEIGHTS_BUCKET)
        adapters = s3.Bucket.from_bucket_attributes(
            self,
            "AdapterBucket",
            bucket_name=ADAPTER_BUCKET,
            encryption_key=kms.Key.from_key_arn(self, "AdapterKey", ADAPTER_KEY_ARN),
        )
        key = kms.Key(self, "TopicKey", enable_key_rotation=True)
        key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        topic = sns.Topic(self, "AlarmTopic", enforce_ssl=True, master_key=key)
        self.fleet = LoraAdapterFleet(
            self,
            "Fleet",
            base_model=ModelSource.s3_prefix(weights, "llama-3.1-8b-instruct/"),
            adapter_store=AdapterStore(adapters, "tenants/"),
            adapters=COMPONENT_ADAPTERS,
            container=LlmContainer.lmi(
                tensor_parallel_degree=1,
                max_model_len=8192,
                lora=LoraOptions(max_loras=16, max_lora_rank=32, max_cpu_loras=128, max_adapters_in_memory=256),
            ),
            instance_type="ml.g5.12xlarge",
            base_component=InferenceComponentOptions(accelerators=1, cpu_cores=8, min_memory_mb=32 * 1024, copies=2),
            autoscaling=AutoScalingOptions(
                min_capacity=1, max_capacity=8, target_concurrent_requests=4, scale_to_zero=True
            ),
            deployment=DeploymentOptions(rolling_batch_percent=50),
            alarm_topic=topic,
            adapter_alarms=AdapterAlarmOptions(server_errors=3),
            adapter_stacks=2,
        )
        self.fleet.add_adapter("late-addition", "late/lora.tar.gz", rank=32)
        # A tenant's backend may call its own adapter only; an operator role may call them all.
        self.tenant_role = iam.Role(self, "TenantRole", assumed_by=iam.AccountRootPrincipal())
        self.fleet.adapter("tenant-0001").grant_invoke(self.tenant_role)
        self.operator_role = iam.Role(self, "OperatorRole", assumed_by=iam.AccountRootPrincipal())
        self.fleet.grant_invoke(self.operator_role)
        for role in (self.tenant_role, self.operator_role):
            acknowledge(
                role,
                "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
                "Test-only caller role standing in for a consumer's own role; grant_invoke adds to its default policy",
            )
        wildcard = self.fleet.component_arn(f"{self.fleet.component_name_prefix}-*")
        acknowledge(
            self.operator_role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, wildcard)}]",
            "Test-only operator role: fleet.grant_invoke covers this fleet's adapters, present and future, by their name prefix",
        )


class LoraInStackStack(cdk.Stack):
    """Adapters kept in the stack itself (adapter_stacks=0): vLLM DLC, bare component names, adapters added one by
    one with add_adapter, no autoscaling, no alarms, no dashboard."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        weights = s3.Bucket.from_bucket_name(self, "Weights", WEIGHTS_BUCKET)
        self.fleet = LoraAdapterFleet(
            self,
            "Fleet",
            base_model=ModelSource.s3_prefix(weights, "qwen2.5-1.5b-instruct/"),
            adapter_store=AdapterStore(weights, "qwen2.5-1.5b-instruct-adapters"),
            container=LlmContainer.vllm(max_model_len=4096, lora=LoraOptions(max_loras=4, max_lora_rank=64)),
            instance_type="ml.g5.2xlarge",
            autoscaling=AutoScalingOptions(enabled=False),
            alarms=AlarmOptions(enabled=False),
            dashboard=False,
            adapter_stacks=0,
            component_name_prefix="",
        )
        for name in ("qwen-demo-chat", "qwen-demo-summarize"):
            self.fleet.add_adapter(name, rank=64)


class LoraStaticStack(cdk.Stack):
    """The static alternative: adapters baked into the model folder (MODEL_ARTIFACT), selected in the request body."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        weights = s3.Bucket.from_bucket_name(self, "Weights", WEIGHTS_BUCKET)
        self.fleet = LoraAdapterFleet(
            self,
            "Fleet",
            base_model=ModelSource.s3_prefix(weights, "mistral-7b-with-adapters/"),
            packaging=AdapterPackaging.MODEL_ARTIFACT,
            adapters=[LoraAdapter(name="summarize", rank=16), LoraAdapter(name="classify", rank=32)],
            container=LlmContainer.lmi(
                tensor_parallel_degree=1, lora=LoraOptions(max_loras=2, max_lora_rank=32, max_cpu_loras=4)
            ),
            instance_type="ml.g5.2xlarge",
        )


VARIANTS: dict = {
    "LoraComponentsStack": LoraComponentsStack,
    "LoraInStackStack": LoraInStackStack,
    "LoraStaticStack": LoraStaticStack,
}
