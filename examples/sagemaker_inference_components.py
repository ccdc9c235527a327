"""An open model as a SageMaker inference component that scales to zero (``HostingMode.inference_component(...)``).

Deploys: a model (LMI/vLLM container, Qwen2.5-7B-Instruct weights from your S3 bucket), an endpoint with managed
instance scaling on ml.g5.12xlarge (4 GPUs: up to 4 one-GPU copies per instance), one inference component whose copies
scale on concurrent requests between 0 and 4, the wake-up alarm that adds a copy when a request finds none, and the
endpoint's alarms.

Idle cost (us-east-1): about $0.50/month once scaled in (0 copies and 0 instances; 5 alarms $0.50); while a copy runs,
1 x ml.g5.12xlarge at $7.09/h ($5,176/month). It starts with one copy; target tracking removes it when there is no
traffic. The first request after scale to zero fails ("no capacity"; the gateway answers 503 with Retry-After) until a
copy is up, minutes for an LLM.

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account; the Region
must offer ``AWS::SageMaker::InferenceComponent``, see the README's Supported Regions)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/sagemaker_inference_components.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.)
"""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

# [start:endpoint]
from cdk_llm_serving import AutoScalingOptions, HostingMode, ModelSource, SageMakerLlmEndpoint

# [end:endpoint]


class SageMakerInferenceComponentsExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        weights_bucket = s3.Bucket.from_bucket_name(self, "Weights", "my-llm-weights")  # yours, in this account
        # [start:endpoint]
        shared = SageMakerLlmEndpoint(
            self,
            "Shared",
            model=ModelSource.s3_prefix(weights_bucket, "qwen2.5-7b-instruct/"),
            hosting=HostingMode.inference_component(accelerators=1, min_memory_mb=16 * 1024, copies=1),
            instance_type="ml.g5.12xlarge",  # 4 GPUs: up to 4 copies per instance
            autoscaling=AutoScalingOptions(min_capacity=0, max_capacity=4, scale_to_zero=True),
        )
        # [end:endpoint]
        cdk.CfnOutput(self, "EndpointName", value=shared.endpoint_name)
        cdk.CfnOutput(self, "InferenceComponentName", value=str(shared.inference_component_name))


def build(app: cdk.App) -> cdk.Stack:
    return SageMakerInferenceComponentsExample(app, "SageMakerInferenceComponentsExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
