"""An enterprise document index: a Bedrock Knowledge Base over S3 documents, vectors in S3 Vectors (``DocumentIndex``).

Deploys: a KMS-encrypted, versioned document bucket (with an access-log bucket), an S3 vector bucket and index, a
knowledge base (Titan Text Embeddings V2, 1024 dimensions, hierarchical chunking) with an S3 data source on
``documents/``, a Step Functions ingestion workflow started by every upload and once a day (no Lambda), a
failed-ingestion alarm to an encrypted SNS topic, a role that may upload documents and one that may query the index.

Idle cost (us-east-1): about $2.20/month (2 KMS keys $2, the alarm $0.20); S3 Vectors, the knowledge base and the
schedule cost nothing until documents are indexed (see the README's DocumentIndex cost table).

Deploy from the repository root (after ``make setup``; needs AWS credentials, a bootstrapped account and a Region with
Bedrock Knowledge Bases and S3 Vectors)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/knowledge_base.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.) Then ``aws s3 cp <folder> s3://<DocumentBucket>/documents/
--recursive`` starts an ingestion; query with ``aws bedrock-agent-runtime retrieve --knowledge-base-id <KnowledgeBaseId>``.
"""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

# [start:index]
from cdk_llm_serving import ChunkingStrategy, DocumentIndex, IngestionTrigger

# [end:index]


class KnowledgeBaseExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        topic_key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True)
        topic_key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))  # alarms publish to it
        topic = sns.Topic(self, "AlarmTopic", master_key=topic_key, enforce_ssl=True)
        retriever = iam.Role(self, "Retriever", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))  # your RAG app
        publisher = iam.Role(self, "Publisher", assumed_by=iam.AccountRootPrincipal())  # whoever uploads documents
        # [start:index]
        index = DocumentIndex(
            self,
            "Documents",
            document_prefix="documents/",
            chunking=ChunkingStrategy.hierarchical(),  # or .fixed_size(), .semantic(), .none()
            ingestion=IngestionTrigger(on_upload=True, schedule=cdk.Duration.hours(24)),
            alarm_topic=topic,
        )
        index.grant_retrieve(retriever)  # bedrock:Retrieve on this knowledge base only
        index.grant_upload(publisher)  # PutObject under documents/ + the key through S3
        cdk.CfnOutput(self, "KnowledgeBaseId", value=index.knowledge_base_id)  # for Retrieve / KnowledgeBaseRetrieval
        # [end:index]
        cdk.CfnOutput(self, "DocumentBucket", value=index.document_bucket.bucket_name)


def build(app: cdk.App) -> cdk.Stack:
    return KnowledgeBaseExample(app, "KnowledgeBaseExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
