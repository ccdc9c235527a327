"""An open model on a SageMaker real-time endpoint (``HostingMode.real_time()``, the default).

Deploys: a model (LMI/vLLM container, Qwen2.5-7B-Instruct weights from your S3 bucket), an endpoint config and endpoint
on 2-4 ml.g5.2xlarge instances scaled on concurrent requests, canary rollouts rolled back on the 5XX and latency
alarms, those alarms notifying an encrypted SNS topic, and a role your application uses to call the endpoint.

Idle cost (us-east-1): about $2,213/month: 2 x ml.g5.2xlarge (the autoscaling minimum: a canary needs a whole instance
that is at most half of the new fleet) x $1.515/h x 730 h = $2,211.90, the topic's KMS key $1, 4 alarms $0.40.

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account), once the
weights are in ``s3://<your bucket>/qwen2.5-7b-instruct/``::

    npx --no-install cdk deploy --app ".venv/bin/python examples/sagemaker_real_time.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.)
"""

# [start:stack]
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_llm_serving import (
    AutoScalingOptions,
    DeploymentOptions,
    LlmContainer,
    ModelSource,
    SageMakerLlmEndpoint,
    TrafficShift,
)


class SageMakerRealTimeExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        weights_bucket = s3.Bucket.from_bucket_name(self, "Weights", "my-llm-weights")  # yours, in this account
        topic_key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True)
        topic_key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))  # alarms publish to it
        topic = sns.Topic(self, "AlarmTopic", master_key=topic_key, enforce_ssl=True)

        # [start:endpoint]
        llm = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.s3_prefix(weights_bucket, "qwen2.5-7b-instruct/"),
            container=LlmContainer.lmi(tensor_parallel_degree=1, max_model_len=8192),
            instance_type="ml.g5.2xlarge",
            autoscaling=AutoScalingOptions(min_capacity=2, max_capacity=4, target_concurrent_requests=8),
            deployment=DeploymentOptions(
                traffic=TrafficShift(percent=50)
            ),  # canary: 1 of the (at least) 2 new instances
            alarm_topic=topic,
        )  # ALARM and OK of every endpoint alarm
        caller = iam.Role(self, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))  # your application
        llm.grant_invoke(caller)  # InvokeEndpoint + InvokeEndpointWithResponseStream, this endpoint
        # [end:endpoint]
        cdk.CfnOutput(self, "EndpointName", value=llm.endpoint_name)


# [end:stack]


def build(app: cdk.App) -> cdk.Stack:
    return SageMakerRealTimeExample(app, "SageMakerRealTimeExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
