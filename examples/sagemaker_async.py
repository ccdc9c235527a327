"""An open model on a SageMaker asynchronous endpoint that scales to zero (``HostingMode.async_(...)``).

Deploys: a model (LMI/vLLM container, Qwen2.5-7B-Instruct weights from your S3 bucket), an async endpoint on
ml.g5.2xlarge whose instances scale on the request backlog between 0 and 2 (a ``HasBacklogWithoutCapacity`` alarm adds
the first instance when requests queue with none running), a KMS-encrypted bucket for requests, results and failures,
success and error SNS topics, the endpoint's alarms, and a role your application uses to submit requests.

Idle cost (us-east-1): about $1.60/month once scaled in (0 instances; the KMS key $1, 6 alarms $0.60) + S3 storage of
what you keep; while an instance runs, ml.g5.2xlarge at $1.515/h ($1,106/month). A request that arrives at zero waits in
the queue until an instance has started and loaded the model (minutes).

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/sagemaker_async.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.) Then upload a request under ``async/input/`` of the output bucket
and call ``aws sagemaker-runtime invoke-endpoint-async --endpoint-name <EndpointName> --input-location s3://...``.
"""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

# [start:endpoint]
from cdk_llm_serving import AutoScalingOptions, HostingMode, ModelSource, SageMakerLlmEndpoint

# [end:endpoint]


class SageMakerAsyncExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        weights_bucket = s3.Bucket.from_bucket_name(self, "Weights", "my-llm-weights")  # yours, in this account
        caller = iam.Role(self, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))  # your application
        # [start:endpoint]
        queued = SageMakerLlmEndpoint(
            self,
            "Queued",
            model=ModelSource.s3_prefix(weights_bucket, "qwen2.5-7b-instruct/"),
            hosting=HostingMode.async_(max_concurrent_invocations_per_instance=4),  # + a new bucket and SNS topics
            autoscaling=AutoScalingOptions(max_capacity=2, scale_to_zero=True),
        )  # on the backlog, down to 0
        queued.grant_invoke_async(caller)  # InvokeEndpointAsync + the input/output prefixes + the key
        # [end:endpoint]
        cdk.CfnOutput(self, "EndpointName", value=queued.endpoint_name)
        cdk.CfnOutput(self, "Bucket", value=queued.bucket.bucket_name)


def build(app: cdk.App) -> cdk.Stack:
    return SageMakerAsyncExample(app, "SageMakerAsyncExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
