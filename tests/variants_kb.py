"""Small test-only stacks for the DocumentIndex (Bedrock Knowledge Base) construct.

Synthesized in the session app next to the real stacks, so each gets snapshot, cdk-nag and
cfn-lint checks.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from cdk_llm_serving import ChunkingStrategy, DocumentIndex, IngestionTrigger
from cdk_llm_serving._nag import acknowledge

#: The existing bucket and key of KnowledgeBaseExistingBucketStack (stand-ins for a consumer's own).
EXISTING_BUCKET_NAME = "corp-policies-example"
EXISTING_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


class KnowledgeBaseStack(cdk.Stack):
    """The defaults: a created document bucket with a prefix, Titan V2 at 1024 dimensions, fixed-size chunks,
    ingestion on upload and daily; a retrieval role (the gateway's stand-in) and an uploader role."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.index = DocumentIndex(self, "Index", document_prefix="documents/")
        self.retriever = iam.Role(self, "RetrieverRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.index.grant_retrieve(self.retriever)
        self.uploader = iam.Role(self, "UploaderRole", assumed_by=iam.AccountRootPrincipal())
        self.index.grant_upload(self.uploader)
        bucket = self.index.document_bucket.node.default_child
        acknowledge(
            self.uploader,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{self.get_logical_id(bucket)}.Arn>/documents/*]",  # type: ignore[arg-type]
            "Uploaders write any document under the index prefix; S3 object ARNs need a wildcard for that",
        )
        for role in (self.retriever, self.uploader):
            acknowledge(
                role,
                "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
                "Test-only role standing in for a consumer's own role; the grant_* methods add to its default policy",
            )


class KnowledgeBaseExistingBucketStack(cdk.Stack):
    """An existing KMS-encrypted bucket and prefix, semantic chunking at 512 dimensions, a 6-hour schedule only,
    no X-Ray, and an alarm topic."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key.from_key_arn(
            self, "ExistingKey", self.format_arn(service="kms", resource="key", resource_name=EXISTING_KEY_ID)
        )
        bucket = s3.Bucket.from_bucket_attributes(
            self, "ExistingBucket", bucket_name=EXISTING_BUCKET_NAME, encryption_key=key
        )
        alarm_key = kms.Key(self, "AlarmKey", enable_key_rotation=True)
        alarm_key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        self.topic = sns.Topic(self, "AlarmTopic", enforce_ssl=True, master_key=alarm_key)
        self.index = DocumentIndex(
            self,
            "Index",
            document_bucket=bucket,
            document_prefix="policies/",
            dimensions=512,
            chunking=ChunkingStrategy.semantic(max_tokens=512, buffer_size=1, breakpoint_percentile_threshold=90),
            ingestion=IngestionTrigger(on_upload=False, schedule=cdk.Duration.hours(6)),
            tracing=False,
            alarm_topic=self.topic,
        )


VARIANTS = {
    "KnowledgeBaseStack": KnowledgeBaseStack,
    "KnowledgeBaseExistingBucketStack": KnowledgeBaseExistingBucketStack,
}
