"""One base model serving many LoRA adapters as SageMaker inference components (``LoraAdapterFleet``).

Deploys: a base model (Llama 3.1 8B Instruct weights from your S3 bucket, LMI/vLLM with LoRA) as an inference component
on ml.g5.12xlarge with managed instance scaling, 1-8 base copies scaled on concurrent requests and down to zero,
three adapter inference components (each an ``adapter.tar.gz`` in your adapter store) in nested stacks, the wake-up
alarms, the base model's alarms, a dashboard, and a tenant role that may call exactly one adapter.

Idle cost (us-east-1): about $3.80/month once scaled in (0 copies and 0 instances; the dashboard $3, free in an account
with at most 3; 8 alarms $0.80); while a base copy runs, 1 x ml.g5.12xlarge at $7.09/h ($5,176/month), whatever the number of adapters.

The stack is Region-agnostic: ``compare_with_dedicated`` then prices us-east-1 and says so (``region_assumed``).

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account; the Region must
offer ``AWS::SageMaker::InferenceComponent``)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/lora_fleet.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.)
"""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

# [start:fleet]
from cdk_llm_serving import (
    AdapterStore,
    AutoScalingOptions,
    InferenceComponentOptions,
    LlmContainer,
    LoraAdapter,
    LoraAdapterFleet,
    LoraOptions,
    ModelSource,
    SageMakerModelAlias,
)

# [end:fleet]


class LoraFleetExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        bucket = s3.Bucket.from_bucket_name(self, "Weights", "my-llm-weights")  # yours, in this account
        tenant_role = iam.Role(self, "TenantRole", assumed_by=iam.AccountRootPrincipal())  # a tenant's backend
        # [start:fleet]
        fleet = LoraAdapterFleet(
            self,
            "Fleet",
            base_model=ModelSource.s3_prefix(bucket, "llama-3.1-8b-instruct/"),
            adapter_store=AdapterStore(bucket, "adapters/llama-3.1-8b/"),  # the role reads exactly this prefix
            adapters=[
                LoraAdapter(name="support", rank=16),  # s3://…/adapters/llama-3.1-8b/support/adapter.tar.gz
                LoraAdapter(name="legal", artifact="legal/v3/adapter.tar.gz", rank=8),
            ],
            container=LlmContainer.lmi(
                tensor_parallel_degree=1, lora=LoraOptions(max_loras=8, max_lora_rank=16, max_cpu_loras=64)
            ),
            instance_type="ml.g5.12xlarge",
            base_component=InferenceComponentOptions(accelerators=1, min_memory_mb=16 * 1024),
            autoscaling=AutoScalingOptions(
                min_capacity=0, max_capacity=8, target_concurrent_requests=5, scale_to_zero=True
            ),
        )
        fleet.add_adapter("sql", "sql/v2/adapter.tar.gz", rank=8)  # or from a loop over your tenants
        support = fleet.adapter("support")  # a LoraAdapterComponent
        support.grant_invoke(tenant_role)  # exactly the endpoint + that adapter's component
        route = SageMakerModelAlias.for_endpoint(
            alias="support", endpoint=support
        )  # for BedrockGatewayApi(models=[...])
        savings = fleet.compare_with_dedicated(adapters=100)  # against 100 dedicated endpoints, same traffic:
        # savings.savings_percent is 95.3; a Region-agnostic stack is priced in us-east-1 (savings.fleet.region_assumed)
        # [end:fleet]
        cdk.CfnOutput(self, "EndpointName", value=fleet.endpoint_name)
        cdk.CfnOutput(
            self,
            "SupportComponent",
            value=str(route.inference_component_name),
            description="InferenceComponentName of the 'support' adapter",
        )
        cdk.CfnOutput(
            self,
            "SavingsAt100Adapters",
            value=f"{savings.savings_percent:.1f} % (prices of {savings.fleet.region}"
            f"{', assumed' if savings.fleet.region_assumed else ''})",
        )


def build(app: cdk.App) -> cdk.Stack:
    return LoraFleetExample(app, "LoraFleetExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
