"""Test-only stacks for batch generation: BedrockBatchInference with non-default props, and BatchStack's SageMaker
backends (the app's BatchStack is the Bedrock default). Synthesized in the session app, so each gets snapshot,
cdk-nag and cfn-lint checks."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns

from cdk_llm_serving import BatchInputFormat, BatchLimits, BedrockBatchInference, OffPeakWindow, TokenPrice
from cdk_llm_serving._nag import acknowledge
from stacks import BatchSettings, BatchStack

#: An application inference profile (cost tags) over Claude Haiku 4.5's US profile.
APP_PROFILE_ARN = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6"


class BedrockBatchProfileStack(cdk.Stack):
    """An application inference profile, OpenAI input only, a Paris off-peak window on weekdays, no upload trigger,
    the stack's own topics, explicit fallbacks and price; an uploader and a reader role."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id, env=cdk.Environment(account="111122223333", region="us-east-1"))
        topic_key = kms.Key(self, "AlarmKey", enable_key_rotation=True)
        topic = sns.Topic(self, "Alarms", enforce_ssl=True, master_key=topic_key)
        self.batch = BedrockBatchInference(
            self,
            "Batch",
            model_id=APP_PROFILE_ARN,
            foundation_model_ids=["anthropic.claude-haiku-4-5-20251001-v1:0"],
            input_format=BatchInputFormat.OPENAI,
            trigger_on_upload=False,
            schedule=OffPeakWindow(
                start="22:30", days="MON-FRI", time_zone="Europe/Paris", duration=cdk.Duration.hours(8)
            ),
            job_timeout=cdk.Duration.hours(48),
            max_concurrent_jobs=10,
            fallback_limits=BatchLimits(min_records=100, max_records=20_000),
            quota_model_name="Claude Haiku 4.5",
            batch_price=TokenPrice(input_per_million=0.5, output_per_million=2.5),
            alarm_topic=topic,
        )
        self.uploader = iam.Role(self, "Uploader", assumed_by=iam.AccountRootPrincipal())
        self.batch.grant_upload(self.uploader)
        self.batch.grant_start(self.uploader)
        self.reader = iam.Role(self, "Reader", assumed_by=iam.AccountRootPrincipal())
        self.batch.grant_read_results(self.reader)
        for role, bucket, prefix in (
            (self.uploader, self.batch.input_bucket, "input/*"),
            (self.reader, self.batch.output_bucket, "runs/*"),
        ):
            acknowledge(
                role,
                "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
                "Test-only role standing in for a consumer's own role; the grant_* methods add to its default policy",
            )
            acknowledge(
                role,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::<{self.get_logical_id(bucket.node.default_child)}.Arn>/{prefix}]",  # type: ignore[arg-type]
                "Inputs and results are many files under one prefix; S3 object ARNs need a wildcard for that",
            )


def _transform(scope: cdk.App, construct_id: str) -> cdk.Stack:
    return BatchStack(
        scope, construct_id, settings=BatchSettings(backend="sagemaker-transform", time_zone="Asia/Tokyo")
    )


def _async(scope: cdk.App, construct_id: str) -> cdk.Stack:
    return BatchStack(
        scope,
        construct_id,
        settings=BatchSettings(backend="sagemaker-async", window_start="20:00", window_hours=6, max_instances=2),
    )


VARIANTS = {
    "BedrockBatchProfileStack": BedrockBatchProfileStack,
    "BatchTransformStack": _transform,
    "BatchAsyncStack": _async,
}
