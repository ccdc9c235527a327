"""DocumentIndex: an enterprise document index, an Amazon Bedrock Knowledge Base over an S3 document bucket.

Vector store: Amazon S3 Vectors. It is billed per use (storage, writes, queries) with no always-on capacity,
which makes it the cheapest store Bedrock Knowledge Bases supports for an internal index that is queried
occasionally; it trades latency (sub-second rather than milliseconds) and search features (no hybrid/keyword
search) for that. The price comparison with OpenSearch Serverless and Aurora pgvector, with its date, is in the
README (DocumentIndex > Cost), where it can be kept current.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3vectors as s3vectors
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .._alarms import threshold_alarm
from .._errors import ProblemCollector
from .._nag import acknowledge, nag_resource
from .._retained import RetainedName, stack_id_suffix
from .._types import typed_props
from .base import DocumentIndexBase, ImportedDocumentIndex
from .config import (
    KNOWN_EMBEDDING_MODELS,
    MAX_CHUNK_TOKENS,
    TITAN_TEXT_EMBEDDINGS_V2,
    ChunkingStrategy,
    IngestionTrigger,
    document_prefix_problems,
    embedding_model_problems,
)
from .rules import DESCRIPTION_MAX, KNOWLEDGE_BASE, RETAINED_NAMES, KnowledgeBaseSettings

#: Metadata keys Bedrock Knowledge Bases writes to every vector. S3 Vectors allows only 2 KB of *filterable*
#: metadata per vector; the chunk text alone is larger, so these keys must be non-filterable (set when the
#: index is created; it cannot be changed later). Metadata filters on your own ``.metadata.json`` attributes
#: keep working.
NON_FILTERABLE_METADATA_KEYS = ("AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA")

#: The S3 Vectors actions the knowledge base needs on its index: write and delete vectors during ingestion,
#: query and read them (with their metadata) during Retrieve.
S3_VECTORS_ACTIONS = (
    "s3vectors:GetIndex",
    "s3vectors:QueryVectors",
    "s3vectors:PutVectors",
    "s3vectors:GetVectors",
    "s3vectors:DeleteVectors",
)

_POLL_INTERVAL = cdk.Duration.minutes(1)
_NONCURRENT_VERSIONS_KEPT = cdk.Duration.days(90)
_ACCESS_LOGS_KEPT = cdk.Duration.days(90)
_ACCESS_LOGS_PREFIX = "document-bucket/"

# Step Functions names errors of AWS SDK integrations "<Service>.<Exception>".
_CONFLICT = "BedrockAgent.ConflictException"
_QUOTA = "BedrockAgent.ServiceQuotaExceededException"
_TRANSIENT = ("BedrockAgent.ThrottlingException", "BedrockAgent.InternalServerException")


class DocumentIndex(DocumentIndexBase):
    """An enterprise document index: an Amazon Bedrock Knowledge Base over an S3 document bucket, with its
    vectors in Amazon S3 Vectors and Lambda-free ingestion (EventBridge + Step Functions).

    Resources:

    - a document bucket (SSE-KMS with a customer-managed key, TLS only, versioned, no public access, server
      access logs) or your existing bucket, optionally limited to one prefix;
    - an S3 vector bucket and a float32/cosine vector index with the embedding model's dimension (KMS-encrypted
      with the same key);
    - the knowledge base (``VECTOR``, Titan Text Embeddings V2 by default) and one S3 data source with the
      chosen chunking strategy;
    - the knowledge base's service role: ``bedrock:InvokeModel`` on exactly the embedding model,
      ``s3:ListBucket`` on the bucket and ``s3:GetObject`` under the prefix, the KMS key, and the S3 Vectors
      actions on exactly the index; trusted by ``bedrock.amazonaws.com`` only for knowledge bases of this
      account and Region;
    - an ingestion state machine (Standard workflow, AWS SDK integration, no Lambda): ``StartIngestionJob``,
      then it polls ``GetIngestionJob`` every minute until the job ends, and fails when the job fails or any
      document failed (so the failure alarm means "something was not indexed");
    - EventBridge rules that start it on uploads/deletions under the prefix and/or on a schedule;
    - an alarm on failed or timed-out ingestions (ALARM and OK notify ``alarm_topic`` when one is given).

    **Bursts of uploads.** Every S3 event starts one execution. Only one ingestion job runs per data source
    at a time (``ConflictException``); the first execution starts a job and the others retry with exponential
    backoff and jitter (up to ~45 minutes), so when that job ends one of them starts the next job, which picks
    up everything uploaded meanwhile (syncs are incremental: unchanged documents are not re-embedded).
    Executions still conflicting after their retries end as *Succeeded* (state ``AnotherJobRunning``) rather
    than failed: a job is running. That job may have listed the prefix before their files arrived; such files
    are indexed by the next upload or by the schedule, which is why the default trigger has both.
    """

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        document_bucket: s3.IBucket | None = None,
        document_prefix: str | None = None,
        embedding_model_id: str = TITAN_TEXT_EMBEDDINGS_V2,
        dimensions: int = 1024,
        chunking: ChunkingStrategy | None = None,
        ingestion: IngestionTrigger | None = None,
        knowledge_base_name: str | None = None,
        vector_bucket_name: str | None = None,
        description: str = "Enterprise document index: Bedrock Knowledge Base over S3 documents, vectors in S3 Vectors",
        encryption_key: kms.IKey | None = None,
        server_access_logs_bucket: s3.IBucket | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        tracing: bool = True,
        ingestion_timeout: cdk.Duration | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        """
        :param document_bucket: an existing bucket with the documents (same account and Region). Its
            ``encryption_key`` (if any) is granted to the knowledge base. With ``ingestion.on_upload``, turn on
            "Send notifications to Amazon EventBridge" on that bucket yourself. Default: - a bucket is created
        :param document_prefix: only keys under this prefix are indexed, uploaded by ``grant_upload`` and
            trigger ingestion; 1 to 300 characters ending with ``/``. Default: - the whole bucket
        :param embedding_model_id: Bedrock embedding model (foundation model ID; its ARN is built with the
            stack's partition and Region). Default: ``amazon.titan-embed-text-v2:0``
        :param dimensions: embedding size; the vector index is created with the same dimension. Titan V2:
            256, 512 or 1024. Default: 1024
        :param chunking: how documents are split. Default: - ``ChunkingStrategy.fixed_size()`` (300 tokens,
            20% overlap)
        :param ingestion: what starts ingestion jobs. Default: - ``IngestionTrigger()``: on upload and every 24 hours
            (``IngestionTrigger.manual()``: neither)
        :param knowledge_base_name: up to 100 letters, digits, ``-`` and ``_``. Default: - derived from the
            construct path (unique and stable)
        :param vector_bucket_name: name of the S3 Vectors bucket, unique in the account and Region: 3 to 63
            lowercase letters, digits and hyphens, starting and ending with a letter or digit (may be a token, e.g.
            holding the stack ID, when several copies of one template are launched in an account). Default: -
            derived from the construct path (unique and stable within one app)
        :param description: knowledge base description, 1 to 200 characters. Default: - "Enterprise document
            index: …" (a fixed text)
        :param encryption_key: KMS key for the documents (when the bucket is created), the vectors, the data
            source's transient ingestion data and the ingestion logs. A key passed in must allow CloudWatch Logs
            and ``indexing.s3vectors.amazonaws.com`` (see the README). Default: - a new customer-managed KMS key
            with rotation
        :param server_access_logs_bucket: where the created document bucket writes server access logs.
            Default: - a log bucket is created (SSE-S3, 90-day expiry)
        :param log_retention: retention of the ingestion state machine's logs. Default: ``logs.RetentionDays.ONE_MONTH``
        :param tracing: X-Ray tracing of the ingestion state machine. Default: true
        :param ingestion_timeout: longest an ingestion execution (retries + job) may take, 1 hour to 7 days.
            Default: - 24 hours
        :param alarm_topic: SNS topic notified when the failed-ingestion alarm goes to ALARM and back to OK.
            Default: - the alarms have no actions
        """
        super().__init__(scope, construct_id)
        self.embedding_model_id = embedding_model_id
        self.dimensions = dimensions
        self.chunking = chunking or ChunkingStrategy.fixed_size()
        self.ingestion = ingestion or IngestionTrigger()
        self.document_prefix: str | None = document_prefix
        self.knowledge_base_name = knowledge_base_name or cdk.Names.unique_id(self)[-100:]
        self._vector_bucket_name_prop = vector_bucket_name
        ingestion_timeout = ingestion_timeout or cdk.Duration.hours(24)
        self._generate_names()
        self._validate(
            description=description,
            ingestion_timeout=ingestion_timeout,
            document_bucket=document_bucket,
            server_access_logs_bucket=server_access_logs_bucket,
        )
        self.embedding_model_arn: str = cdk.Stack.of(self).format_arn(
            service="bedrock", account="", resource="foundation-model", resource_name=embedding_model_id
        )
        """``arn:<partition>:bedrock:<region>::foundation-model/<id>`` (foundation models have no account)."""

        self._build_encryption(encryption_key)
        self._build_documents(document_bucket, server_access_logs_bucket, on_upload=self.ingestion.on_upload)
        self._build_vector_store()
        self._build_service_role()
        self._build_knowledge_base(description)
        self._build_data_source()
        self._build_ingestion(log_retention=log_retention, tracing=tracing, timeout=ingestion_timeout)
        self._build_alarm(alarm_topic)
        self._acknowledge_findings(tracing=tracing)

    # ---------------------------------------------------------------------------------------------------
    # validation

    def _generate_names(self) -> None:
        """Physical names derived from the construct path (never from prop values), and generated descriptions."""
        # The group is retained: its name ends with part of the stack ID, so a re-created stack never asks for the
        # name of a group its deleted predecessor left behind.
        self._log_group_name = f"/aws/vendedlogs/states/{cdk.Names.unique_id(self)[-200:]}-{stack_id_suffix()}"
        self._vector_bucket_name = self._vector_bucket_name_prop or self._physical_name("vectors")
        self._index_name = self._physical_name("index")
        prefix = self.document_prefix
        description = "Documents in S3" + (f" under {prefix}" if prefix else "")
        # A long prefix would push the description over Bedrock's 200 characters (KB.DESCRIPTION_LENGTH).
        if len(description) > DESCRIPTION_MAX:
            description = description[: DESCRIPTION_MAX - 1] + "…"
        self._data_source_description = description

    def _validate(
        self,
        *,
        description: str,
        ingestion_timeout: cdk.Duration,
        document_bucket: s3.IBucket | None,
        server_access_logs_bucket: s3.IBucket | None,
    ) -> None:
        """Every problem of the props and of the values generated from them, raised once (types: ``@typed_props``)."""
        p = ProblemCollector.for_construct(self)
        spec = KNOWN_EMBEDDING_MODELS.get(self.embedding_model_id)
        settings = KnowledgeBaseSettings(
            name=self.knowledge_base_name,
            description=description,
            data_source_description=self._data_source_description,
            inclusion_prefix=self.document_prefix,
            vector_bucket_name=self._vector_bucket_name,
        )
        log_group = RetainedName(
            f"{self.node.path}/IngestionLogs", "LogGroupName", cdk.Stack.of(self).resolve(self._log_group_name)
        )
        for problem in (
            embedding_model_problems(self.embedding_model_id, self.dimensions)
            + self.chunking.problems(max_input_tokens=spec.max_input_tokens if spec else MAX_CHUNK_TOKENS)
            + self.ingestion.problems()
            + document_prefix_problems(self.document_prefix)
            + KNOWLEDGE_BASE.problems(settings)
            + RETAINED_NAMES.problems(log_group)
            + self._timeout_problems(ingestion_timeout)
        ):
            p.add(problem)
        p.check(
            document_bucket is None or server_access_logs_bucket is None,
            "server_access_logs_bucket only applies to a document bucket this construct creates; configure logging "
            "on your existing document_bucket yourself",
        )
        p.raise_if_any()

    @staticmethod
    def _timeout_problems(timeout: cdk.Duration) -> list[str]:
        seconds = timeout.to_seconds()
        if cdk.Token.is_unresolved(seconds) or 3600 <= seconds <= 7 * 24 * 3600:
            return []
        return [
            f"ingestion_timeout must be between 1 hour and 7 days (large ingestions take hours), got {seconds} seconds"
        ]

    # ---------------------------------------------------------------------------------------------------
    # resources

    def _build_encryption(self, encryption_key: kms.IKey | None) -> None:
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description="Encrypts the document index: documents, vectors, transient ingestion data, ingestion logs",
            enable_key_rotation=True,
        )
        self._grant_service_principals_on_key()

    def _build_documents(
        self, document_bucket: s3.IBucket | None, server_access_logs_bucket: s3.IBucket | None, *, on_upload: bool
    ) -> None:
        self.access_logs_bucket: s3.IBucket | None = None
        if document_bucket is None:
            document_bucket = self._create_document_bucket(server_access_logs_bucket, on_upload=on_upload)
        elif on_upload:
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-llm-serving:document-index-eventbridge",
                "DocumentIndex: ingestion on upload needs Amazon EventBridge notifications on the existing document "
                "bucket (S3 console > Properties > Event notifications > Amazon EventBridge: On). This construct does "
                "not change a bucket it did not create.",
            )
        self.document_bucket: s3.IBucket = document_bucket

    def _build_vector_store(self) -> None:
        """The S3 vector bucket and its index (the dimension of the embedding model, cosine distance)."""
        self.vector_bucket = s3vectors.CfnVectorBucket(
            self,
            "VectorBucket",
            vector_bucket_name=self._vector_bucket_name,
            encryption_configuration=s3vectors.CfnVectorBucket.EncryptionConfigurationProperty(
                sse_type="aws:kms", kms_key_arn=self.encryption_key.key_arn
            ),
        )
        self.vector_index = s3vectors.CfnIndex(
            self,
            "VectorIndex",
            vector_bucket_arn=self.vector_bucket.attr_vector_bucket_arn,
            index_name=self._index_name,
            data_type="float32",
            dimension=self.dimensions,
            distance_metric="cosine",
            metadata_configuration=s3vectors.CfnIndex.MetadataConfigurationProperty(
                non_filterable_metadata_keys=list(NON_FILTERABLE_METADATA_KEYS)
            ),
        )
        self.vector_index_arn: str = self.vector_index.attr_index_arn

    def _build_service_role(self) -> None:
        """The knowledge base's role and its one managed policy (:meth:`_role_statements`)."""
        self.role = iam.Role(
            self,
            "Role",
            description="Bedrock knowledge base service role of a DocumentIndex",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                    # The knowledge base's own ARN is not known before the role exists (it references the role),
                    # so the trust is limited to knowledge bases of this account and Region, as AWS documents.
                    "ArnLike": {
                        "aws:SourceArn": cdk.Stack.of(self).format_arn(
                            service="bedrock", resource="knowledge-base", resource_name="*"
                        )
                    },
                },
            ),
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Least-privilege permissions of a DocumentIndex knowledge base: its embedding model, "
            "documents, KMS key and vector index",
            roles=[self.role],
            statements=self._role_statements(),
        )

    def _embedding_model_configuration(self) -> bedrock.CfnKnowledgeBase.EmbeddingModelConfigurationProperty | None:
        """``Dimensions`` for models that offer a choice; a warning for models synth does not know."""
        spec = KNOWN_EMBEDDING_MODELS.get(self.embedding_model_id)
        if spec is None:
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-llm-serving:document-index-unknown-model",
                f"DocumentIndex: {self.embedding_model_id} is not a model synth knows; check that it produces "
                f"{self.dimensions}-dimensional vectors (the index is created with that dimension) and that chunks "
                "fit its input.",
            )
        if spec is None or not spec.configurable:
            return None
        return bedrock.CfnKnowledgeBase.EmbeddingModelConfigurationProperty(
            bedrock_embedding_model_configuration=bedrock.CfnKnowledgeBase.BedrockEmbeddingModelConfigurationProperty(
                dimensions=self.dimensions, embedding_data_type="FLOAT32"
            )
        )

    def _build_knowledge_base(self, description: str) -> None:
        embedding_config = self._embedding_model_configuration()
        self.knowledge_base = bedrock.CfnKnowledgeBase(
            self,
            "KnowledgeBase",
            name=self.knowledge_base_name,
            description=description,
            role_arn=self.role.role_arn,
            knowledge_base_configuration=bedrock.CfnKnowledgeBase.KnowledgeBaseConfigurationProperty(
                type="VECTOR",
                vector_knowledge_base_configuration=bedrock.CfnKnowledgeBase.VectorKnowledgeBaseConfigurationProperty(
                    embedding_model_arn=self.embedding_model_arn,
                    embedding_model_configuration=embedding_config,
                ),
            ),
            storage_configuration=bedrock.CfnKnowledgeBase.StorageConfigurationProperty(
                type="S3_VECTORS",
                s3_vectors_configuration=bedrock.CfnKnowledgeBase.S3VectorsConfigurationProperty(
                    index_arn=self.vector_index_arn
                ),
            ),
        )
        # Bedrock checks the role's access to the index when the knowledge base is created, and the data
        # source deletes its vectors with that role when it is deleted: the policy must outlive both.
        self.knowledge_base.node.add_dependency(self.policy)
        self.knowledge_base_id: str = self.knowledge_base.attr_knowledge_base_id
        self.knowledge_base_arn: str = self.knowledge_base.attr_knowledge_base_arn

    def _build_data_source(self) -> None:
        prefix = self.document_prefix
        self.data_source = bedrock.CfnDataSource(
            self,
            "DataSource",
            knowledge_base_id=self.knowledge_base_id,
            name="documents",
            description=self._data_source_description,
            data_deletion_policy="DELETE",
            data_source_configuration=bedrock.CfnDataSource.DataSourceConfigurationProperty(
                type="S3",
                s3_configuration=bedrock.CfnDataSource.S3DataSourceConfigurationProperty(
                    bucket_arn=self.document_bucket.bucket_arn,
                    inclusion_prefixes=[prefix] if prefix else None,
                ),
            ),
            vector_ingestion_configuration=bedrock.CfnDataSource.VectorIngestionConfigurationProperty(
                chunking_configuration=self.chunking.render()
            ),
            server_side_encryption_configuration=bedrock.CfnDataSource.ServerSideEncryptionConfigurationProperty(
                kms_key_arn=self.encryption_key.key_arn
            ),
        )
        self.data_source_id: str = self.data_source.attr_data_source_id

    def _build_ingestion(self, *, log_retention: logs.RetentionDays, tracing: bool, timeout: cdk.Duration) -> None:
        """The ingestion log group, state machine and triggers."""
        self.ingestion_log_group = logs.LogGroup(
            self,
            "IngestionLogs",
            # Step Functions delivers logs as vended logs; this prefix keeps the account's CloudWatch Logs
            # resource policy small.
            log_group_name=self._log_group_name,
            retention=log_retention,
            encryption_key=self.encryption_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.ingestion_state_machine = self._ingestion_state_machine(tracing, timeout)
        self.upload_rule: events.Rule | None = None
        self.schedule_rule: events.Rule | None = None
        self._ingestion_triggers(self.ingestion)

    def _build_alarm(self, alarm_topic: sns.ITopic | None) -> None:
        """One failed or timed-out ingestion in 5 minutes; ``alarm_topic`` hears ALARM and OK (the shared helper)."""
        self.ingestion_failed_alarm: cloudwatch.Alarm = threshold_alarm(
            self,
            "IngestionFailedAlarm",
            self.metric_ingestion_failures(),
            threshold=1,
            description="A DocumentIndex ingestion failed or timed out: the job failed, a document could not "
            "be indexed, or StartIngestionJob kept failing. See the state machine's execution and its logs.",
            topic=alarm_topic,
            topic_prop="alarm_topic",
        )

    def _physical_name(self, suffix: str) -> str:
        """A stable, unique, lowercase name for S3 Vectors (3-63 characters, letters, digits and hyphens)."""
        base = cdk.Names.unique_resource_name(self, max_length=63 - len(suffix) - 1, separator="-").lower()
        return f"{base}-{suffix}"

    def _grant_service_principals_on_key(self) -> None:
        """Key policy statements for CloudWatch Logs (ingestion logs) and S3 Vectors' background indexing.

        Added only to a key this construct can change (a created key or one from the same app).
        """
        added = [self.encryption_key.add_to_resource_policy(s).statement_added for s in self._key_policy_statements()]
        if not all(added):
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-llm-serving:document-index-key-policy",
                "DocumentIndex: the encryption_key passed in is imported, so its key policy cannot be changed here. "
                "It must allow CloudWatch Logs (logs.<region>.amazonaws.com) for the ingestion log group and "
                "indexing.s3vectors.amazonaws.com (kms:Decrypt) for the vector bucket; see the README.",
            )

    def _key_policy_statements(self) -> list[iam.PolicyStatement]:
        stack = cdk.Stack.of(self)
        vector_bucket_arn = stack.format_arn(
            service="s3vectors", resource="bucket", resource_name=self._vector_bucket_name
        )
        return [
            iam.PolicyStatement(
                sid="AllowIngestionLogs",
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is the key itself
                conditions={
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=self._log_group_name,
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            ),
            # S3 Vectors maintains the index in the background with its own principal, which must be able to
            # decrypt with the bucket's key (AWS documents this statement for SSE-KMS vector buckets).
            iam.PolicyStatement(
                sid="AllowS3VectorsIndexing",
                actions=["kms:Decrypt"],
                principals=[iam.ServicePrincipal("indexing.s3vectors.amazonaws.com")],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": [vector_bucket_arn, f"{vector_bucket_arn}/index/*"]},
                    "ForAnyValue:StringEquals": {
                        "kms:EncryptionContextKeys": ["aws:s3vectors:arn", "aws:s3vectors:resource-id"]
                    },
                },
            ),
        ]

    def _create_access_logs_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logging cannot deliver to SSE-KMS
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,  # no ACLs: delivery by bucket policy
            lifecycle_rules=[
                s3.LifecycleRule(expiration=_ACCESS_LOGS_KEPT, noncurrent_version_expiration=cdk.Duration.days(1))
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _create_document_bucket(self, access_logs: s3.IBucket | None, *, on_upload: bool) -> s3.Bucket:
        if access_logs is None:
            access_logs = self._create_access_logs_bucket()
        self.access_logs_bucket = access_logs
        bucket = s3.Bucket(
            self,
            "DocumentBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.encryption_key,
            bucket_key_enabled=True,  # fewer KMS requests (and KMS charges) per object
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=_NONCURRENT_VERSIONS_KEPT,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        self._deliver_access_logs(bucket, cfn_bucket, access_logs)
        if on_upload:
            # CloudFormation turns EventBridge delivery on natively; CDK's notifications custom resource (a
            # Lambda function) is not needed for that.
            cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
            )
        return bucket

    @staticmethod
    def _deliver_access_logs(bucket: s3.Bucket, cfn_bucket: s3.CfnBucket, access_logs: s3.IBucket) -> None:
        # Server access logs are delivered by the logging service under a bucket policy (not the legacy
        # LogDeliveryWrite ACL that CDK's server_access_logs_bucket would set on the log bucket).
        cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=access_logs.bucket_name, log_file_prefix=_ACCESS_LOGS_PREFIX
        )
        access_logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3ServerAccessLogsOfDocuments",
                actions=["s3:PutObject"],
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                resources=[access_logs.arn_for_objects(f"{_ACCESS_LOGS_PREFIX}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                },
            )
        )

    def _role_statements(self) -> list[iam.PolicyStatement]:
        in_account = {"StringEquals": {"aws:ResourceAccount": cdk.Aws.ACCOUNT_ID}}
        statements = [
            iam.PolicyStatement(
                sid="InvokeEmbeddingModel", actions=["bedrock:InvokeModel"], resources=[self.embedding_model_arn]
            ),
            iam.PolicyStatement(
                sid="ListDocuments",
                actions=["s3:ListBucket"],
                resources=[self.document_bucket.bucket_arn],
                conditions=in_account,
            ),
            iam.PolicyStatement(
                sid="ReadDocuments", actions=["s3:GetObject"], resources=[self._objects_arn()], conditions=in_account
            ),
            # The index key encrypts the vectors (read and written with the role's credentials) and the data
            # source's transient ingestion data; for a created bucket it is also the documents' key.
            iam.PolicyStatement(
                sid="UseIndexKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self.encryption_key.key_arn],
            ),
            iam.PolicyStatement(
                sid="ReadWriteVectorIndex", actions=list(S3_VECTORS_ACTIONS), resources=[self.vector_index_arn]
            ),
        ]
        document_key = self._document_key()
        if document_key is not None and document_key is not self.encryption_key:
            statements.insert(
                3,
                iam.PolicyStatement(
                    sid="DecryptDocuments",
                    actions=["kms:Decrypt"],
                    resources=[document_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{cdk.Aws.REGION}.amazonaws.com"}},
                ),
            )
        return statements

    def _ingestion_state_machine(self, tracing: bool, timeout: cdk.Duration) -> sfn.StateMachine:
        """StartIngestionJob, then GetIngestionJob every minute until the job ends (see the class docstring)."""
        definition = self._ingestion_definition()
        self._build_ingestion_role(tracing)
        machine = sfn.StateMachine(
            self,
            "IngestionStateMachine",
            comment="Starts an ingestion job of a DocumentIndex and waits for its result",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,  # jobs run for minutes to hours
            # Policy updates go to the managed policy below; the role stays without inline policies.
            role=self.ingestion_role.without_policy_updates(),
            timeout=timeout,
            tracing_enabled=tracing,
            logs=sfn.LogOptions(
                destination=self.ingestion_log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=False,  # S3 events carry document names
            ),
        )
        machine.node.add_dependency(self.ingestion_policy)
        return machine

    def _ingestion_definition(self) -> sfn.IChainable:
        ids = {"KnowledgeBaseId": self.knowledge_base_id, "DataSourceId": self.data_source_id}
        start = self._start_ingestion_job(ids)
        wait = sfn.Wait(self, "WaitForIngestionJob", time=sfn.WaitTime.duration(_POLL_INTERVAL))
        get = self._get_ingestion_job(ids)
        return start.next(wait).next(get).next(self._job_status(wait))

    @staticmethod
    def _retry(
        task: tasks.CallAwsService,
        errors: list[str],
        *,
        interval: cdk.Duration,
        max_attempts: int,
        max_delay: cdk.Duration | None = None,
    ) -> None:
        """Retry ``errors`` with exponential backoff (doubling) and full jitter."""
        task.add_retry(
            errors=errors,
            interval=interval,
            backoff_rate=2,
            max_attempts=max_attempts,
            max_delay=max_delay,
            jitter_strategy=sfn.JitterType.FULL,
        )

    def _start_ingestion_job(self, ids: dict[str, str]) -> tasks.CallAwsService:
        start = tasks.CallAwsService(
            self,
            "StartIngestionJob",
            service="bedrockagent",
            action="startIngestionJob",
            iam_action="bedrock:StartIngestionJob",
            iam_resources=[self.knowledge_base_arn],
            parameters={**ids, "Description": "Started by the DocumentIndex ingestion state machine"},
            result_path="$.ingestion",
        )
        # One job per data source at a time: wait for the running one, with exponential backoff and jitter
        # (~45 minutes in total), then give up without failing (see the class docstring).
        self._retry(
            start, [_CONFLICT], interval=cdk.Duration.minutes(1), max_attempts=6, max_delay=cdk.Duration.minutes(15)
        )
        # Account-wide concurrent ingestion jobs (other knowledge bases): wait longer, then fail loudly.
        self._retry(
            start, [_QUOTA], interval=cdk.Duration.minutes(1), max_attempts=6, max_delay=cdk.Duration.minutes(15)
        )
        self._retry(start, list(_TRANSIENT), interval=cdk.Duration.seconds(10), max_attempts=5)
        superseded = sfn.Succeed(
            self,
            "AnotherJobRunning",
            comment="Another ingestion job kept running through all retries; it, a later upload or the schedule "
            "picks up the change",
        )
        start.add_catch(superseded, errors=[_CONFLICT], result_path="$.conflict")
        return start

    def _get_ingestion_job(self, ids: dict[str, str]) -> tasks.CallAwsService:
        get = tasks.CallAwsService(
            self,
            "GetIngestionJob",
            service="bedrockagent",
            action="getIngestionJob",
            iam_action="bedrock:GetIngestionJob",
            iam_resources=[self.knowledge_base_arn],
            parameters={**ids, "IngestionJobId.$": "$.ingestion.IngestionJob.IngestionJobId"},
            result_path="$.ingestion",
        )
        self._retry(get, list(_TRANSIENT), interval=cdk.Duration.seconds(10), max_attempts=5)
        return get

    def _job_status(self, wait: sfn.Wait) -> sfn.Choice:
        """COMPLETE without failed documents succeeds; FAILED/STOPPED or failed documents fail; else poll again."""
        status = "$.ingestion.IngestionJob.Status"
        failed_documents = "$.ingestion.IngestionJob.Statistics.NumberOfDocumentsFailed"
        complete = sfn.Succeed(self, "IngestionComplete")
        job_failed = sfn.Fail(
            self,
            "IngestionJobFailed",
            error="IngestionJobFailed",
            cause="The ingestion job ended FAILED or STOPPED; see its failure reasons (bedrock-agent get-ingestion-job)",
        )
        documents_failed = sfn.Fail(
            self,
            "DocumentsFailed",
            error="DocumentsFailed",
            cause="The ingestion job completed but some documents were not indexed (unsupported format, over the "
            "file size quota, or unreadable); see the job's statistics and failure reasons",
        )
        # Nested choices: a Choice rule must not read Statistics before knowing it is there.
        any_failed = (
            sfn.Choice(self, "AnyDocumentFailed")
            .when(sfn.Condition.number_greater_than(failed_documents, 0), documents_failed)
            .otherwise(complete)
        )
        has_statistics = (
            sfn.Choice(self, "HasStatistics")
            .when(sfn.Condition.is_present(failed_documents), any_failed)
            .otherwise(complete)
        )
        return (
            sfn.Choice(self, "JobStatus")
            .when(sfn.Condition.string_equals(status, "COMPLETE"), has_statistics)
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals(status, "FAILED"), sfn.Condition.string_equals(status, "STOPPED")
                ),
                job_failed,
            )
            .otherwise(wait)
        )

    def _build_ingestion_role(self, tracing: bool) -> None:
        self.ingestion_role = iam.Role(
            self,
            "IngestionRole",
            description="DocumentIndex ingestion state machine: start and watch ingestion jobs of one knowledge base",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
        )
        self.ingestion_policy = iam.ManagedPolicy(
            self,
            "IngestionPolicy",
            description="Least-privilege permissions of a DocumentIndex ingestion state machine",
            roles=[self.ingestion_role],
            statements=self._ingestion_statements(tracing),
        )

    def _ingestion_statements(self, tracing: bool) -> list[iam.PolicyStatement]:
        statements = [
            iam.PolicyStatement(
                sid="ManageIngestionJobs",
                actions=["bedrock:StartIngestionJob", "bedrock:GetIngestionJob"],
                resources=[self.knowledge_base_arn],
            ),
            iam.PolicyStatement(
                sid="DeliverLogs",
                actions=[
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                # CloudWatch Logs vended-log delivery has no resource-level permissions: AWS requires "*".
                resources=["*"],
            ),
        ]
        if tracing:
            statements.append(
                iam.PolicyStatement(
                    sid="WriteTraces",
                    actions=[
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                    # X-Ray has no resource-level permissions: AWS requires "*".
                    resources=["*"],
                )
            )
        return statements

    def _ingestion_triggers(self, ingestion: IngestionTrigger) -> None:
        self.trigger_role: iam.Role | None = None
        if not ingestion.on_upload and ingestion.event_schedule() is None:
            return
        target = self._trigger_target()
        if ingestion.on_upload:
            detail: dict[str, Any] = {"bucket": {"name": [self.document_bucket.bucket_name]}}
            if self.document_prefix:
                detail["object"] = {"key": [{"prefix": self.document_prefix}]}
            self.upload_rule = events.Rule(
                self,
                "UploadRule",
                description="Documents changed under the DocumentIndex prefix: start an ingestion",
                event_pattern=events.EventPattern(
                    source=["aws.s3"], detail_type=["Object Created", "Object Deleted"], detail=detail
                ),
                targets=[target],
            )
        schedule = ingestion.event_schedule()
        if schedule is not None:
            self.schedule_rule = events.Rule(
                self,
                "ScheduleRule",
                description="Scheduled DocumentIndex ingestion (catches changes a running job did not see)",
                schedule=schedule,
                targets=[target],
            )

    def _trigger_target(self) -> targets.SfnStateMachine:
        """The EventBridge target: the state machine, started with a role that may start only it."""
        machine = self.ingestion_state_machine
        self.trigger_role = iam.Role(
            self,
            "TriggerRole",
            description="EventBridge: start the DocumentIndex ingestion state machine",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
        )
        iam.ManagedPolicy(
            self,
            "TriggerPolicy",
            description="EventBridge may start exactly the DocumentIndex ingestion state machine",
            roles=[self.trigger_role],
            statements=[
                iam.PolicyStatement(
                    sid="StartIngestion", actions=["states:StartExecution"], resources=[machine.state_machine_arn]
                )
            ],
        )
        return targets.SfnStateMachine(
            machine,
            role=self.trigger_role.without_policy_updates(),
            retry_attempts=10,
            max_event_age=cdk.Duration.hours(2),
        )

    # ---------------------------------------------------------------------------------------------------
    # import and grants (grant_retrieve and grant_upload: DocumentIndexBase)

    @staticmethod
    def from_knowledge_base_attributes(
        scope: Construct,
        construct_id: str,
        *,
        knowledge_base_id: str,
        knowledge_base_arn: str | None = None,
        document_bucket: s3.IBucket | None = None,
        document_prefix: str | None = None,
    ) -> ImportedDocumentIndex:
        """A knowledge base created elsewhere, for ``grant_retrieve``, ``grant_upload`` and the gateway's
        ``KnowledgeBaseRetrieval`` (pass it ``knowledge_base_id`` and ``knowledge_base_arn``). Nothing is created.

        :param knowledge_base_id: ID of the knowledge base (10 letters or digits), or a token such as
            ``Fn.import_value(...)``. Required.
        :param knowledge_base_arn: its ARN, when it is not in this stack's account and Region (its ID must be
            ``knowledge_base_id``). Default: - ``arn:<partition>:bedrock:<region>:<account>:knowledge-base/<id>``
            of this stack
        :param document_bucket: the bucket its data source reads, for ``grant_upload`` (give an imported
            bucket its ``encryption_key`` so uploads may use it). Default: - none: ``grant_upload`` raises
        :param document_prefix: the prefix its data source indexes, ending with ``/``. Default: - the whole bucket
        """
        return ImportedDocumentIndex(
            scope,
            construct_id,
            knowledge_base_id=knowledge_base_id,
            knowledge_base_arn=knowledge_base_arn,
            document_bucket=document_bucket,
            document_prefix=document_prefix,
        )

    def grant_start_ingestion(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` (a pipeline, an operator role) to start an ingestion (``states:StartExecution``)."""
        return self.ingestion_state_machine.grant_start_execution(grantee)

    # ---------------------------------------------------------------------------------------------------
    # metrics

    def metric_ingestions_started(self, **options: Any) -> cloudwatch.Metric:
        """Ingestion executions started (uploads, schedule, manual). Default: sum over 5 minutes."""
        return self.ingestion_state_machine.metric_started(**self._sum(options))

    def metric_ingestions_succeeded(self, **options: Any) -> cloudwatch.Metric:
        """Ingestion executions that succeeded (job complete, or superseded by a running job). Default: sum over 5 minutes."""
        return self.ingestion_state_machine.metric_succeeded(**self._sum(options))

    def metric_ingestions_failed(self, **options: Any) -> cloudwatch.Metric:
        """Ingestion executions that failed (job failed, documents failed, API errors). Default: sum over 5 minutes."""
        return self.ingestion_state_machine.metric_failed(**self._sum(options))

    def metric_ingestions_timed_out(self, **options: Any) -> cloudwatch.Metric:
        """Ingestion executions that hit ``ingestion_timeout``. Default: sum over 5 minutes."""
        return self.ingestion_state_machine.metric_timed_out(**self._sum(options))

    def metric_ingestion_failures(self, **options: Any) -> cloudwatch.MathExpression:
        """Failed plus timed-out ingestion executions (what the alarm watches). Default: sum over 5 minutes.

        ``options`` are the other ``metric_*`` methods' (``cloudwatch.MetricOptions``: ``period``, ``statistic``,
        ``label``, ``color``, ``account``, ``region`` …): ``period``, ``label`` and ``color`` apply to the
        expression, the rest to both metrics it adds up.
        """
        options = self._sum(options)
        label = options.pop("label", "Failed or timed-out ingestions")
        color = options.pop("color", None)
        return cloudwatch.MathExpression(
            expression="FILL(failed, 0) + FILL(timedOut, 0)",
            using_metrics={
                "failed": self.metric_ingestions_failed(**options),
                "timedOut": self.metric_ingestions_timed_out(**options),
            },
            label=label,
            color=color,
            period=options["period"],
        )

    @staticmethod
    def _sum(options: dict[str, Any]) -> dict[str, Any]:
        options.setdefault("statistic", "Sum")
        options.setdefault("period", cdk.Duration.minutes(5))
        return options

    # ---------------------------------------------------------------------------------------------------
    # cdk-nag

    def _acknowledge_findings(self, *, tracing: bool) -> None:
        """cdk-nag findings on this construct's own resources (the alarm's is acknowledged by ``threshold_alarm``)."""
        acknowledge(
            self.policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, self._objects_arn())}]",
            "The knowledge base reads every document under its inclusion prefix; S3 object ARNs need a wildcard for "
            "that (the bucket and prefix are fixed)",
        )
        acknowledge(
            self.ingestion_policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs vended-log delivery (Step Functions logging) and X-Ray support no resource-level "
            "permissions; AWS requires '*' for exactly those actions",
        )
        if not tracing:
            acknowledge(
                self.ingestion_state_machine,
                "AwsSolutions::AwsSolutions-SF2",
                "X-Ray tracing was switched off explicitly with tracing=False; executions are still logged at level ALL",
            )
        self._acknowledge_bucket_findings()

    def _acknowledge_bucket_findings(self) -> None:
        """Replication and access-log findings of the buckets this construct created."""
        if isinstance(self.document_bucket, s3.Bucket) and self.document_bucket.node.scope is self:
            acknowledge(
                self.document_bucket,
                "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
                "Documents are versioned and retained in one Region; cross-Region replication is a deployment "
                "choice (add a replication rule for a disaster-recovery copy)",
            )
        logs_bucket = self.access_logs_bucket
        if isinstance(logs_bucket, s3.Bucket) and logs_bucket.node.scope is self:
            for finding, reason in (
                (
                    "AwsSolutions::AwsSolutions-S1",
                    "This is the access-log bucket of the document bucket; logging it to itself would loop",
                ),
                (
                    "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled",
                    "This is the access-log bucket of the document bucket; logging it to itself would loop",
                ),
                (
                    "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
                    "Access logs are kept 90 days for audit in one Region; cross-Region replication is a deployment choice",
                ),
                (
                    "NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS",
                    "S3 server access logging can only deliver to SSE-S3 encrypted buckets",
                ),
            ):
                acknowledge(logs_bucket, finding, reason)
