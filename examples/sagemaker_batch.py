"""A nightly batch-transform pipeline over a SageMaker model (``SageMakerLlmEndpoint.add_batch_transform``).

Deploys: a model (LMI/vLLM container, weights as a model.tar.gz in your S3 bucket: batch transform cannot use
``ModelSource.s3_prefix``) on an async endpoint that scales to zero (so nothing runs between batches; the endpoint
also serves ad-hoc requests), and a Step Functions state machine that runs a batch transform job over the JSON Lines
files under ``batch/input/`` of the endpoint's bucket every night at 02:00 UTC, writes ``batch/output/<job>/``, and
raises an alarm when a run fails. Outputs, run logs and the endpoint's bucket use one KMS key.

Idle cost (us-east-1): about $1.70/month (0 instances between runs; the KMS key $1, 7 alarms $0.70) + S3 storage; each run
costs its transform instance (1 x ml.g5.2xlarge at $1.515/h while the job runs) plus a few Step Functions state
transitions.

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/sagemaker_batch.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.) Then put prompts (one JSON request per line) under
``s3://<Bucket>/batch/input/``.
"""

from typing import Any

import aws_cdk as cdk

# [start:pipeline]
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_serving import AutoScalingOptions, HostingMode, ModelSource, SageMakerLlmEndpoint

# [end:pipeline]


class SageMakerBatchExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        weights_bucket = s3.Bucket.from_bucket_name(self, "Weights", "my-llm-weights")  # yours, in this account
        # [start:pipeline]
        llm = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.s3_tarball(weights_bucket, "qwen2.5-7b-instruct/model.tar.gz"),  # batch needs a tarball
            hosting=HostingMode.async_(),
            autoscaling=AutoScalingOptions(max_capacity=1, scale_to_zero=True),
        )
        nightly = llm.add_batch_transform(
            "Nightly",
            input_bucket=llm.bucket,  # batch/input/ -> batch/output/<job>/
            schedule=events.Schedule.cron(hour="2", minute="0"),
        )
        # [end:pipeline]
        cdk.CfnOutput(self, "Bucket", value=llm.bucket.bucket_name)
        cdk.CfnOutput(self, "StateMachineArn", value=nightly.state_machine.state_machine_arn)


def build(app: cdk.App) -> cdk.Stack:
    return SageMakerBatchExample(app, "SageMakerBatchExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
