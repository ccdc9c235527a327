"""A small model on a SageMaker serverless endpoint (``HostingMode.serverless(...)``): pay per request, no instances.

Deploys: a model (your CPU inference image from ECR, weights as a model.tar.gz in your S3 bucket:
serverless endpoints cannot use ``ModelSource.s3_prefix``), a serverless endpoint config (6 GB memory, 20 concurrent
invocations) and endpoint, and the endpoint's alarms. Serverless is CPU only and at most 6 GB: a sub-1B model such
as Qwen2.5-0.5B-Instruct, not a 7 B one (synth says so in a warning).

Idle cost (us-east-1): about $0.20/month (2 alarms); requests are billed per millisecond of compute and per
GB processed, nothing while idle. Each cold start loads the model again.

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account), once the image
is in ECR and the tarball in S3::

    npx --no-install cdk deploy --app ".venv/bin/python examples/sagemaker_serverless.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.)
"""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

# [start:endpoint]
from cdk_llm_serving import HostingMode, LlmContainer, ModelSource, SageMakerLlmEndpoint

# [end:endpoint]


class SageMakerServerlessExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        weights_bucket = s3.Bucket.from_bucket_name(self, "Weights", "my-llm-weights")  # yours, in this account
        # [start:endpoint]
        small = SageMakerLlmEndpoint(
            self,
            "Small",
            model=ModelSource.s3_tarball(weights_bucket, "qwen2.5-0.5b-instruct/model.tar.gz"),  # no s3_prefix here
            # Your CPU serving image, in the Region you deploy to (a literal URI: synth scopes the ECR pull to it).
            container=LlmContainer.from_image_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/tiny-llm-cpu:1.0"),
            hosting=HostingMode.serverless(memory_size_mb=6144, max_concurrency=20),
        )  # no instance_type
        # [end:endpoint]
        cdk.CfnOutput(self, "EndpointName", value=small.endpoint_name)


def build(app: cdk.App) -> cdk.Stack:
    return SageMakerServerlessExample(app, "SageMakerServerlessExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
