"""BedrockBatchInference: Amazon Bedrock batch inference runs, orchestrated by Step Functions.

A batch job is a run, not a CloudFormation resource (``AWS::Bedrock::ModelInvocationJob`` has no settable
properties), so each run is a Standard state machine execution, started on upload, on a schedule or by hand:

1. **Prepare** (Lambda): read the run's JSONL (Bedrock records or OpenAI Batch requests), validate every line
   (malformed lines are listed with their line numbers), split into job files within the model's quotas (read
   from Service Quotas at run time, with documented fallbacks), write them and a run manifest.
2. **Submit** (Map, at most ``max_concurrent_jobs`` at a time): ``CreateModelInvocationJob`` through the AWS SDK
   integration (Step Functions has no optimized integration for it), one job per file, with a unique name and a
   ``clientRequestToken`` per run and part, so a retried call never starts a second billed job.
3. **Wait**: the "Batch Inference Job State Change" event (EventBridge, ``source: aws.bedrock``) resumes the run
   through a task token kept in DynamoDB; events are best-effort, so after each ``poll_interval`` without one the
   run polls ``GetModelInvocationJob`` and waits again.
4. **Collect** (Lambda): join the outputs on ``recordId`` (their order is not guaranteed), write results (and OpenAI
   Batch output lines for OpenAI input), a summary with counts, tokens and an estimated cost, and metrics.
5. **Notify**: the summary goes to an SNS topic; failed runs raise an alarm.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .._alarms import threshold_alarm
from .._assets import runtime_dir
from .._data import load_json
from .._errors import ProblemCollector
from .._nag import acknowledge, nag_resource
from .._prices import TokenPrice
from .._types import typed_props
from ..bedrock_gateway.aliases import INFERENCE_PROFILE_GEOS
from ..bedrock_gateway.layers import GATEWAY_RUNTIME
from .options import BatchInputFormat, BatchInvocationType, BatchLimits, OffPeakWindow
from .rules import JOBS, WINDOWS, JobPlan, WindowPlan
from .schedule import offpeak_schedule

#: Job states after which nothing changes (botocore ModelInvocationJobStatus).
TERMINAL_STATUSES = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")
METRICS_NAMESPACE = "CdkLlmServing/BedrockBatch"
_RUNS_PREFIX = "runs/"
_ACCESS_LOGS_PREFIX = "batch-buckets/"
_BEDROCK = "Bedrock"
_RETRYABLE = (f"{_BEDROCK}.ThrottlingException", f"{_BEDROCK}.InternalServerException")
_QUOTA = f"{_BEDROCK}.ServiceQuotaExceededException"
_LOG_DELIVERY = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]
_XRAY = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]


def default_batch_price(model_id: str) -> TokenPrice | None:
    """The batch price of ``model_id`` from the bundled table (on-demand × batch discount), or ``None``."""
    table = load_json(__package__ or "cdk_llm_serving.bedrock_batch", "token_prices.json")
    price = table["on_demand_per_million"].get(foundation_model_of(model_id))
    if price is None:
        return None
    discount = float(table["batch_discount"])
    return TokenPrice(input_per_million=price["input"] * discount, output_per_million=price["output"] * discount)


def profile_geo(model_id: str) -> str | None:
    head, _, rest = model_id.partition(".")
    return head if head in INFERENCE_PROFILE_GEOS and rest else None


def foundation_model_of(model_id: str) -> str:
    """The foundation model of a model id or system inference profile id (``us.amazon.nova-lite-v1:0`` → ``amazon.nova-lite-v1:0``)."""
    name = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    return name.split(".", 1)[1] if profile_geo(name) else name


class BedrockBatchInference(Construct):
    """Amazon Bedrock batch inference over JSONL files: Bedrock records or OpenAI Batch API requests in, results
    (and OpenAI Batch output) out, at the batch price (about half of on-demand).

    Upload files under ``input_prefix`` of :attr:`input_bucket` (each upload starts a run with
    ``trigger_on_upload``), or start a run by hand with :attr:`start_command`; each run writes
    ``runs/<run id>/`` of :attr:`output_bucket` (``results.jsonl``, ``summary.json``, ``openai/output.jsonl``
    and ``openai/errors.jsonl`` for OpenAI input) and publishes its summary to :attr:`notification_topic`.
    """

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_id: str,
        foundation_model_ids: list[str] | None = None,
        invocation_type: BatchInvocationType = BatchInvocationType.CONVERSE,
        input_format: BatchInputFormat = BatchInputFormat.AUTO,
        input_prefix: str = "input/",
        trigger_on_upload: bool = True,
        schedule: OffPeakWindow | None = None,
        job_name_prefix: str = "batch",
        job_timeout: cdk.Duration | None = None,
        max_concurrent_jobs: int = 5,
        poll_interval: cdk.Duration | None = None,
        fallback_limits: BatchLimits | None = None,
        quota_model_name: str | None = None,
        allow_invalid_records: bool = False,
        batch_price: TokenPrice | None = None,
        retention: cdk.Duration | None = None,
        encryption_key: kms.IKey | None = None,
        notification_topic: sns.ITopic | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        """
        :param model_id: the model the jobs run: a foundation-model id (``amazon.nova-lite-v1:0``), a system
            inference profile id (``us.amazon.nova-lite-v1:0``), or an inference-profile or application-inference-
            profile ARN (batch spend then carries the profile's cost tags).
        :param foundation_model_ids: the foundation models an ARN ``model_id`` routes to (the service role may invoke
            exactly these, in every Region). Default: - derived from ``model_id`` (required for ARNs)
        :param invocation_type: how Bedrock reads ``modelInput``. Default: ``BatchInvocationType.CONVERSE``
        :param input_format: the JSONL dialect of the inputs. Default: ``BatchInputFormat.AUTO`` (per line)
        :param input_prefix: the folder of :attr:`input_bucket` that holds new inputs (a run moves its inputs under
            ``runs/<run id>/input/``). Default: ``input/``
        :param trigger_on_upload: start a run for each ``.jsonl`` uploaded under ``input_prefix``. Default: true
        :param schedule: also start a run in an off-peak window (over every ``.jsonl`` under ``input_prefix``),
            with EventBridge Scheduler. Default: - no schedule
        :param job_name_prefix: job names are ``<prefix>-<run id>-<part>`` (at most 37 characters; rule
            ``BATCH.JOB_NAME``). Default: ``batch``
        :param job_timeout: ``timeoutDurationInHours`` of each job, whole hours from 24 to 168 (rule
            ``BATCH.TIMEOUT_HOURS``). Default: - 24 hours
        :param max_concurrent_jobs: jobs of one run submitted or in progress at once, below the per-model quota of
            20 (rule ``BATCH.CONCURRENT_JOBS``). Default: 5
        :param poll_interval: how long a run waits for a job's state-change event before polling it. Default: - 1 hour
        :param fallback_limits: per-job limits when Service Quotas cannot be read. Default: - ``BatchLimits()``
            (100-50,000 records, 1 GiB)
        :param quota_model_name: the model's name in its Service Quotas names ("Records per batch inference job for
            <name>"). Default: - derived from ``model_id`` (an application-inference-profile ARN needs it)
        :param allow_invalid_records: submit the valid records of a file with malformed lines (which are listed in
            the run's ``invalid.jsonl`` and summary). Default: false (the run fails and lists them)
        :param batch_price: batch USD per 1M tokens for the summary's cost estimate. Default: - the bundled table
            (on-demand price × 0.5) for known models, else no estimate
        :param retention: how long run files (job inputs, outputs, results) are kept. Default: - 90 days
        :param encryption_key: encrypts the buckets, the token table, the topic and the logs. Default: - a new
            customer-managed KMS key with rotation
        :param notification_topic: receives each run's summary. Default: - a new topic encrypted with
            ``encryption_key`` (subscribe to it after deploying)
        :param alarm_topic: notified when the failed-runs alarm changes to ALARM or OK. Default: - the alarm has no actions
        """
        super().__init__(scope, construct_id)
        self.job_timeout = job_timeout or cdk.Duration.hours(24)
        self.poll_interval = poll_interval or cdk.Duration.hours(1)
        limits = fallback_limits or BatchLimits()
        retention = retention or cdk.Duration.days(90)
        self.model_id = model_id
        self.invocation_type = invocation_type
        self.input_prefix = input_prefix
        self.job_name_prefix = job_name_prefix
        self._validate(
            model_id=model_id,
            foundation_model_ids=foundation_model_ids,
            invocation_type=invocation_type,
            input_format=input_format,
            input_prefix=input_prefix,
            schedule=schedule,
            job_name_prefix=job_name_prefix,
            job_timeout=self.job_timeout,
            max_concurrent_jobs=max_concurrent_jobs,
            poll_interval=self.poll_interval,
            limits=limits,
            retention=retention,
        )
        self.foundation_model_ids = list(foundation_model_ids or [foundation_model_of(model_id)])
        self.batch_price = batch_price or default_batch_price(model_id)
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description="Bedrock batch inference inputs, outputs, tokens and logs",
        )
        self.encryption_key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        self._build_buckets(retention, trigger_on_upload=trigger_on_upload)
        self._build_service_role()
        self._build_token_table()
        self.notification_topic: sns.ITopic = notification_topic or sns.Topic(
            self, "NotificationTopic", master_key=self.encryption_key, enforce_ssl=True
        )
        config = self._runtime_config(input_format, limits, quota_model_name, allow_invalid_records)
        self._build_functions(config)
        self._build_state_machine(max_concurrent_jobs)
        self._build_job_events()
        self._build_triggers(trigger_on_upload, schedule)
        self._build_alarm(alarm_topic)
        self.start_command = (
            f"aws stepfunctions start-execution --state-machine-arn {self.state_machine.state_machine_arn} "
            f'--input \'{{"input_key": "{input_prefix}<file>.jsonl"}}\''
        )
        """A shell command that starts a run over one uploaded file (replace ``<file>``)."""

    # ================================================================= public API

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow uploading input files under ``input_prefix`` (``s3:PutObject`` there, and the key to encrypt them)."""
        put = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject"],
            resource_arns=[self.input_bucket.arn_for_objects(f"{self.input_prefix}*")],
        )
        return put.combine(
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["kms:GenerateDataKey"], resource_arns=[self.encryption_key.key_arn]
            )
        )

    def grant_read_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow listing and reading the runs' files (results, summaries, OpenAI Batch output) and decrypting them."""
        runs = f"{_RUNS_PREFIX}*"
        read = iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[self.output_bucket.arn_for_objects(runs)]
        )
        listing = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[self.output_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [runs]}},
        )
        decrypt = iam.Grant.add_to_principal(
            grantee=grantee, actions=["kms:Decrypt"], resource_arns=[self.encryption_key.key_arn]
        )
        return read.combine(listing).combine(decrypt)

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow starting a run by hand."""
        return self.state_machine.grant_start_execution(grantee)

    def metric_failed_runs(self, *, period: cdk.Duration | None = None) -> cloudwatch.IMetric:
        """Runs that failed or timed out (Step Functions ``ExecutionsFailed`` + ``ExecutionsTimedOut``)."""
        period = period or cdk.Duration.minutes(5)
        return cloudwatch.MathExpression(
            expression="failed + timedOut",
            using_metrics={
                "failed": self.state_machine.metric_failed(period=period),
                "timedOut": self.state_machine.metric_timed_out(period=period),
            },
            label="Failed runs",
            period=period,
        )

    def metric_records_succeeded(self, *, period: cdk.Duration | None = None) -> cloudwatch.Metric:
        """Records with a model output, per run (emitted by the collect step)."""
        return self._metric("RecordsSucceeded", period)

    def metric_records_failed(self, *, period: cdk.Duration | None = None) -> cloudwatch.Metric:
        """Records with an error or without output, per run."""
        return self._metric("RecordsFailed", period)

    def metric_input_tokens(self, *, period: cdk.Duration | None = None) -> cloudwatch.Metric:
        """Input tokens of the runs' jobs."""
        return self._metric("InputTokens", period)

    def metric_output_tokens(self, *, period: cdk.Duration | None = None) -> cloudwatch.Metric:
        """Output tokens of the runs' jobs."""
        return self._metric("OutputTokens", period)

    def _metric(self, name: str, period: cdk.Duration | None) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"Pipeline": self.node.path},
            statistic="Sum",
            period=period or cdk.Duration.hours(1),
        )

    # ================================================================= validation

    def _validate(self, **props: Any) -> None:
        p = ProblemCollector.for_construct(self)
        for problem in props_problems(**props):
            p.add(problem)
        p.raise_if_any()

    # ================================================================= storage and roles

    def _build_buckets(self, retention: cdk.Duration, *, trigger_on_upload: bool) -> None:
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logging cannot deliver to SSE-KMS
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=cdk.Duration.days(365), noncurrent_version_expiration=cdk.Duration.days(1))
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs_bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logging can only deliver to SSE-S3 encrypted buckets",
        )
        acknowledge(
            self.access_logs_bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs are kept a year for audit in one Region; cross-Region replication is a deployment choice",
        )
        self.input_bucket = self._data_bucket("InputBucket", retention, event_bridge=trigger_on_upload)
        """Inputs go under ``input_prefix``; each run keeps its inputs, job files and manifest under ``runs/<run id>/``."""
        self.output_bucket = self._data_bucket("OutputBucket", retention, event_bridge=False)
        """Job outputs, results, OpenAI Batch output and summaries, under ``runs/<run id>/``."""

    def _data_bucket(self, construct_id: str, retention: cdk.Duration, *, event_bridge: bool) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.encryption_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(prefix=_RUNS_PREFIX, expiration=retention),
                s3.LifecycleRule(
                    noncurrent_version_expiration=cdk.Duration.days(7),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cfn = bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        log_prefix = f"{_ACCESS_LOGS_PREFIX}{construct_id}/"
        cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=self.access_logs_bucket.bucket_name, log_file_prefix=log_prefix
        )
        self.access_logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"S3ServerAccessLogsOf{construct_id}",
                actions=["s3:PutObject"],
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                resources=[self.access_logs_bucket.arn_for_objects(f"{log_prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                },
            )
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
            "Batch run files are working data kept for the retention period (the inputs' owner keeps the originals); "
            "cross-Region replication is a deployment choice",
        )
        if event_bridge:
            cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
            )
        return bucket

    def _model_resources(self) -> list[str]:
        """The ARNs a job invokes: the profile (if any) and its foundation models in every Region it routes to."""
        partition, region, account = cdk.Aws.PARTITION, cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
        if self.model_id.startswith("arn:"):
            return [self.model_id] + [
                f"arn:{partition}:bedrock:*::foundation-model/{fm}" for fm in self.foundation_model_ids
            ]
        if profile_geo(self.model_id):
            return [f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{self.model_id}"] + [
                f"arn:{partition}:bedrock:*::foundation-model/{fm}" for fm in self.foundation_model_ids
            ]
        return [f"arn:{partition}:bedrock:{region}::foundation-model/{fm}" for fm in self.foundation_model_ids]

    @property
    def _job_arns(self) -> str:
        return f"arn:{cdk.Aws.PARTITION}:bedrock:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:model-invocation-job/*"

    def _build_service_role(self) -> None:
        """The role Bedrock assumes to run the jobs (Bedrock user guide, "Create a custom service role for batch
        inference", batch-iam-sr.html): trusted by bedrock.amazonaws.com for this account's batch jobs only; S3
        access conditioned on aws:ResourceAccount, the key through S3 (kms:ViaService), and InvokeModel on the
        (application) inference profile plus its foundation model in each Region it routes to, as that page says."""
        self.service_role = iam.Role(
            self,
            "ServiceRole",
            description="Amazon Bedrock batch inference jobs: read job files, write outputs, invoke the model",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": self._job_arns},
                },
            ),
        )
        in_account = {"StringEquals": {"aws:ResourceAccount": cdk.Aws.ACCOUNT_ID}}
        self.service_policy = iam.ManagedPolicy(
            self,
            "ServicePolicy",
            description="Least-privilege permissions of the Bedrock batch inference service role",
            roles=[self.service_role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadJobFiles",
                    actions=["s3:GetObject"],
                    resources=[self.input_bucket.arn_for_objects(f"{_RUNS_PREFIX}*")],
                    conditions=in_account,
                ),
                # The user guide's policy has GetObject and PutObject on both buckets; Bedrock validates them
                # ("could not validate GetObject or PutObject permissions"), so the output prefix gets both.
                iam.PolicyStatement(
                    sid="WriteJobOutputs",
                    actions=["s3:GetObject", "s3:PutObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{_RUNS_PREFIX}*")],
                    conditions=in_account,
                ),
                iam.PolicyStatement(
                    sid="ListRunFolders",
                    actions=["s3:ListBucket"],
                    resources=[self.input_bucket.bucket_arn, self.output_bucket.bucket_arn],
                    conditions={**in_account, "StringLike": {"s3:prefix": [f"{_RUNS_PREFIX}*"]}},
                ),
                # Decrypt reads the inputs, GenerateDataKey writes the outputs (s3EncryptionKeyId); both through S3.
                iam.PolicyStatement(
                    sid="UseBucketKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[self.encryption_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{cdk.Aws.REGION}.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="InvokeModel", actions=["bedrock:InvokeModel"], resources=self._model_resources()
                ),
            ],
        )
        for bucket in (self.input_bucket, self.output_bucket):
            acknowledge(
                self.service_policy,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, bucket.arn_for_objects(_RUNS_PREFIX + '*'))}]",
                "Batch jobs read and write many files under the runs/ prefix, named per run; access is limited to that prefix",
            )
        self._acknowledge_model_wildcards(self.service_policy)

    def _acknowledge_model_wildcards(self, policy: iam.ManagedPolicy) -> None:
        if not (self.model_id.startswith("arn:") or profile_geo(self.model_id)):
            return
        for fm in self.foundation_model_ids:
            acknowledge(
                policy,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/{fm}]",
                "Inference profiles route to the foundation model in any Region of their geography; AWS requires the "
                "model ARN in every such Region",
            )

    def _build_token_table(self) -> None:
        """jobArn -> task token of the run waiting for it (expires after the longest job)."""
        self.token_table = dynamodb.Table(
            self,
            "TokenTable",
            partition_key=dynamodb.Attribute(name="job_arn", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.encryption_key,
            time_to_live_attribute="expires",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,  # task tokens only: worthless once the runs ended
        )
        acknowledge(
            self.token_table,
            "NIST.800.53.R5::NIST.800.53.R5-DynamoDBInBackupPlan",
            "The table holds only Step Functions task tokens of running jobs (a polling fallback covers their loss); "
            "there is nothing to restore from a backup",
        )

    # ================================================================= functions

    def _runtime_config(
        self,
        input_format: BatchInputFormat,
        limits: BatchLimits,
        quota_model_name: str | None,
        allow_invalid_records: bool,
    ) -> dict[str, Any]:
        price = self.batch_price
        return {
            "input_bucket": self.input_bucket.bucket_name,
            "input_prefix": self.input_prefix,
            "runs_prefix": _RUNS_PREFIX,
            "output_bucket": self.output_bucket.bucket_name,
            "input_format": input_format.value,
            "invocation_type": self.invocation_type.value,
            "model_id": self.model_id,
            "quota_model_name": quota_model_name,
            "job_name_prefix": self.job_name_prefix,
            "allow_invalid_records": allow_invalid_records,
            "fallback_limits": {
                "min_records": limits.min_records,
                "max_records": limits.max_records,
                "max_bytes": int(limits.max_file_size.to_bytes()),
            },
            "batch_price": (
                {"input_per_million": price.input_per_million, "output_per_million": price.output_per_million}
                if price
                else None
            ),
            "metrics_namespace": METRICS_NAMESPACE,
            "pipeline_name": self.node.path,
        }

    def _function(
        self, construct_id: str, *, handler: str, description: str, timeout: cdk.Duration, memory: int, config: str
    ) -> tuple[lambda_.Function, iam.ManagedPolicy]:
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=self.encryption_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        policy = iam.ManagedPolicy(
            self,
            f"{construct_id}Policy",
            description=f"Least-privilege permissions of the batch {construct_id.lower()} function",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group.log_group_arn}:*"],
                ),
                iam.PolicyStatement(
                    sid="WriteTraces", actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
                ),
            ],
        )
        fn = lambda_.Function(
            self,
            construct_id,
            description=description,
            runtime=GATEWAY_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=lambda_.Code.from_asset(runtime_dir("batch"), exclude=["__pycache__", "*.pyc"]),
            memory_size=memory,
            timeout=timeout,
            role=role.without_policy_updates(),
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={"BATCH_CONFIG": config, "TOKEN_TABLE": self.token_table.table_name},
        )
        fn.node.add_dependency(policy)
        acknowledge(
            policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, log_group.log_group_arn)}:*]",
            "Lambda writes to log streams it names itself, inside this function's own log group",
        )
        acknowledge(policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", _STAR_REASON)
        acknowledge(
            fn,
            "NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC",
            "The function only calls AWS APIs (S3, Bedrock, DynamoDB, Step Functions, Service Quotas) over TLS with "
            "SigV4; a VPC would add NAT or interface-endpoint cost without reducing exposure",
        )
        acknowledge(
            fn,
            "NIST.800.53.R5::NIST.800.53.R5-LambdaConcurrency",
            "Runs invoke it a few times each; reserved concurrency would take from an account quota that is 10 in new "
            "accounts and fail the deploy there",
        )
        acknowledge(
            fn,
            "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ",
            "Step Functions invokes it synchronously (and retries); the job-event path is best-effort by design, "
            "with the state machine's polling as the fallback",
        )
        return fn, policy

    def _build_functions(self, config: dict[str, Any]) -> None:
        rendered = cdk.Stack.of(self).to_json_string(config)
        runs = _RUNS_PREFIX + "*"
        self.prepare_function, prepare = self._function(
            "Prepare",
            handler="handler.prepare",
            description="Bedrock batch: validate and split a run's input into job files",
            timeout=cdk.Duration.minutes(15),
            memory=2048,
            config=rendered,
        )
        prepare.add_statements(
            iam.PolicyStatement(
                sid="TakeInputs",
                actions=["s3:GetObject", "s3:DeleteObject"],
                resources=[self.input_bucket.arn_for_objects(f"{self.input_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="WriteRunFiles", actions=["s3:PutObject"], resources=[self.input_bucket.arn_for_objects(runs)]
            ),
            iam.PolicyStatement(
                sid="ListInputs",
                actions=["s3:ListBucket"],
                resources=[self.input_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self.input_prefix}*"]}},
            ),
            iam.PolicyStatement(
                sid="UseKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.encryption_key.key_arn]
            ),
            # Service Quotas ListServiceQuotas has no resource-level permissions: AWS requires "*".
            iam.PolicyStatement(sid="ReadQuotas", actions=["servicequotas:ListServiceQuotas"], resources=["*"]),
        )
        self.collect_function, collect = self._function(
            "Collect",
            handler="handler.collect",
            description="Bedrock batch: join job outputs to records, write results and the run summary",
            timeout=cdk.Duration.minutes(15),
            memory=2048,
            config=rendered,
        )
        collect.add_statements(
            iam.PolicyStatement(
                sid="ReadRunIndex", actions=["s3:GetObject"], resources=[self.input_bucket.arn_for_objects(runs)]
            ),
            iam.PolicyStatement(
                sid="ReadWriteOutputs",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[self.output_bucket.arn_for_objects(runs)],
            ),
            iam.PolicyStatement(
                sid="ListOutputs",
                actions=["s3:ListBucket"],
                resources=[self.output_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [runs]}},
            ),
            iam.PolicyStatement(
                sid="UseKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.encryption_key.key_arn]
            ),
            iam.PolicyStatement(sid="ReadJobs", actions=["bedrock:GetModelInvocationJob"], resources=[self._job_arns]),
        )
        self.callback_function, callback = self._function(
            "Callback",
            handler="handler.callback",
            description="Bedrock batch: keep jobArn -> task token, resume the run when its job ends",
            timeout=cdk.Duration.minutes(1),
            memory=256,
            config=rendered,
        )
        callback.add_statements(
            iam.PolicyStatement(
                sid="Tokens",
                actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"],
                resources=[self.token_table.table_arn],
            ),
            iam.PolicyStatement(
                sid="UseKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.encryption_key.key_arn]
            ),
            iam.PolicyStatement(sid="ReadJobs", actions=["bedrock:GetModelInvocationJob"], resources=[self._job_arns]),
        )
        for policy, bucket_prefixes in (
            (prepare, [(self.input_bucket, f"{self.input_prefix}*"), (self.input_bucket, runs)]),
            (collect, [(self.input_bucket, runs), (self.output_bucket, runs)]),
        ):
            for bucket, prefix in bucket_prefixes:
                acknowledge(
                    policy,
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, bucket.arn_for_objects(prefix))}]",
                    "Runs read and write many files named per run under one prefix; access is limited to that prefix",
                )
        for policy in (collect, callback):
            acknowledge(
                policy,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, self._job_arns)}]",
                "Batch job ids are generated by Bedrock per run; read access is limited to this account's batch jobs",
            )

    # ================================================================= state machine

    def _build_state_machine(self, max_concurrent_jobs: int) -> None:
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=self.encryption_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.state_machine_role = iam.Role(
            self,
            "StateMachineRole",
            description="Bedrock batch runs: invoke the run functions, create and watch batch jobs, notify",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
        )
        self.state_machine_policy = iam.ManagedPolicy(
            self,
            "StateMachinePolicy",
            description="Least-privilege permissions of the Bedrock batch run state machine",
            roles=[self.state_machine_role],
            statements=self._state_machine_statements(),
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="A Bedrock batch inference run: prepare, submit jobs, wait for them, collect, notify",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(max_concurrent_jobs)),
            state_machine_type=sfn.StateMachineType.STANDARD,  # .waitForTaskToken; jobs run for hours
            role=self.state_machine_role.without_policy_updates(),
            timeout=cdk.Duration.days(14),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self.state_machine.node.add_dependency(self.state_machine_policy)
        acknowledge(self.state_machine_policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", _STAR_REASON)
        for fn in (self.prepare_function, self.collect_function, self.callback_function):
            acknowledge(
                self.state_machine_policy,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, fn.function_arn)}:*]",
                "Step Functions invokes the function by ARN with a version qualifier; limited to this function",
            )
        acknowledge(
            self.state_machine_policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, self._job_arns)}]",
            "Batch job ids are generated by Bedrock per run; CreateModelInvocationJob and GetModelInvocationJob are "
            "limited to this account's batch jobs",
        )
        self._acknowledge_model_wildcards(self.state_machine_policy)

    def _state_machine_statements(self) -> list[iam.PolicyStatement]:
        functions = [self.prepare_function, self.collect_function, self.callback_function]
        return [
            iam.PolicyStatement(
                sid="InvokeRunFunctions",
                actions=["lambda:InvokeFunction"],
                resources=[a for fn in functions for a in (fn.function_arn, f"{fn.function_arn}:*")],
            ),
            iam.PolicyStatement(
                sid="CreateJobs",
                actions=["bedrock:CreateModelInvocationJob"],
                resources=[*self._model_resources(), self._job_arns],
            ),
            iam.PolicyStatement(sid="WatchJobs", actions=["bedrock:GetModelInvocationJob"], resources=[self._job_arns]),
            iam.PolicyStatement(
                sid="PassServiceRole",
                actions=["iam:PassRole"],
                resources=[self.service_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            ),
            iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[self.notification_topic.topic_arn]),
            iam.PolicyStatement(
                sid="EncryptNotifications",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self.encryption_key.key_arn],
            ),
            # CloudWatch Logs vended-log delivery and X-Ray have no resource-level permissions: AWS requires "*".
            iam.PolicyStatement(sid="DeliverLogs", actions=_LOG_DELIVERY, resources=["*"]),
            iam.PolicyStatement(sid="WriteTraces", actions=_XRAY, resources=["*"]),
        ]

    def _definition(self, max_concurrent_jobs: int) -> sfn.IChainable:
        prepare = tasks.LambdaInvoke(
            self,
            "PrepareRun",
            lambda_function=self.prepare_function,
            payload=sfn.TaskInput.from_object(
                {"input": sfn.JsonPath.object_at("$"), "execution": sfn.JsonPath.string_at("$$.Execution.Id")}
            ),
            result_selector={"Payload.$": "$.Payload"},
            result_path="$.prepared",
            retry_on_service_exceptions=True,
        )
        rejected = tasks.SnsPublish(
            self,
            "NotifyRejected",
            topic=self.notification_topic,
            subject="Bedrock batch run rejected its input",
            message=sfn.TaskInput.from_json_path_at("$.error.Cause"),
            result_path=sfn.JsonPath.DISCARD,
        ).next(
            sfn.Fail(self, "InputRejected", error="InputRejected", cause="The input was rejected; see the notification")
        )
        prepare.add_catch(rejected, errors=["InvalidInput", "NothingToSubmit"], result_path="$.error")
        submit = sfn.Map(
            self,
            "SubmitJobs",
            items_path="$.prepared.Payload.parts",
            max_concurrency=max_concurrent_jobs,
            result_path="$.jobs",
        )
        submit.item_processor(self._job_chain())
        collect = tasks.LambdaInvoke(
            self,
            "CollectRun",
            lambda_function=self.collect_function,
            payload=sfn.TaskInput.from_object(
                {"prepared": sfn.JsonPath.object_at("$.prepared.Payload"), "jobs": sfn.JsonPath.list_at("$.jobs")}
            ),
            result_selector={"Payload.$": "$.Payload"},
            result_path="$.summary",
            retry_on_service_exceptions=True,
        )
        notify = tasks.SnsPublish(
            self,
            "NotifySummary",
            topic=self.notification_topic,
            subject="Bedrock batch run finished",
            message=sfn.TaskInput.from_text(sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.summary.Payload"))),
            result_path=sfn.JsonPath.DISCARD,
        )
        outcome = (
            sfn.Choice(self, "RunOutcome")
            .when(
                sfn.Condition.string_equals("$.summary.Payload.status", "FAILED"),
                sfn.Fail(
                    self, "RunFailed", error="RunFailed", cause="No record of the run succeeded; see summary.json"
                ),
            )
            .otherwise(sfn.Succeed(self, "RunDone"))
        )
        anything = (
            sfn.Choice(self, "AnythingToSubmit")
            .when(sfn.Condition.string_equals("$.prepared.Payload.status", "EMPTY"), sfn.Succeed(self, "NothingToDo"))
            .otherwise(submit.next(collect).next(notify).next(outcome))
        )
        return prepare.next(anything)

    def _job_chain(self) -> sfn.IChainable:
        """One part: create its job, wait for it (event, else poll), and report ``{index, Job: {Status, JobArn, ...}}``."""
        create = tasks.CallAwsService(
            self,
            "CreateJob",
            service="bedrock",
            action="createModelInvocationJob",
            iam_action="bedrock:CreateModelInvocationJob",
            iam_resources=[*self._model_resources(), self._job_arns],
            parameters={
                "JobName.$": "$.job_name",
                "ClientRequestToken.$": "$.client_request_token",
                "RoleArn": self.service_role.role_arn,
                "ModelId": self.model_id,
                "ModelInvocationType": self.invocation_type.value,
                "TimeoutDurationInHours": int(self.job_timeout.to_hours()),
                "InputDataConfig": {"S3InputDataConfig": {"S3Uri.$": "$.input_uri", "S3InputFormat": "JSONL"}},
                "OutputDataConfig": {
                    "S3OutputDataConfig": {"S3Uri.$": "$.output_uri", "S3EncryptionKeyId": self.encryption_key.key_arn}
                },
            },
            result_selector={"JobArn.$": "$.JobArn"},
            result_path="$.job",
        )
        create.add_retry(
            errors=list(_RETRYABLE),
            interval=cdk.Duration.seconds(10),
            backoff_rate=2,
            max_attempts=5,
            jitter_strategy=sfn.JitterType.FULL,
        )
        # Too many jobs of the model in progress: wait for some to finish (the token makes the retry idempotent).
        create.add_retry(
            errors=[_QUOTA],
            interval=cdk.Duration.minutes(5),
            backoff_rate=2,
            max_attempts=8,
            max_delay=cdk.Duration.hours(1),
            jitter_strategy=sfn.JitterType.FULL,
        )
        not_submitted = sfn.Pass(
            self,
            "NotSubmitted",
            parameters={
                "index.$": "$.index",
                "Job": {"Status": "NotSubmitted", "Message.$": "$.error.Cause"},
            },
        )
        create.add_catch(not_submitted, errors=["States.ALL"], result_path="$.error")
        wait = tasks.LambdaInvoke(
            self,
            "WaitForJobEvent",
            lambda_function=self.callback_function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {"task_token": sfn.JsonPath.task_token, "job_arn": sfn.JsonPath.string_at("$.job.JobArn")}
            ),
            task_timeout=sfn.Timeout.duration(self.poll_interval),
            result_path="$.status",
        )
        poll = tasks.CallAwsService(
            self,
            "PollJob",
            service="bedrock",
            action="getModelInvocationJob",
            iam_action="bedrock:GetModelInvocationJob",
            iam_resources=[self._job_arns],
            parameters={"JobIdentifier.$": "$.job.JobArn"},
            result_selector={"Status.$": "$.Status", "JobArn.$": "$.JobArn"},
            result_path="$.status",
        )
        poll.add_retry(errors=list(_RETRYABLE), interval=cdk.Duration.seconds(10), backoff_rate=2, max_attempts=5)
        wait.add_catch(poll, errors=["States.Timeout"], result_path="$.timeout")
        done = sfn.Pass(self, "JobEnded", parameters={"index.$": "$.index", "Job.$": "$.status"})
        ended = sfn.Condition.or_(*(sfn.Condition.string_equals("$.status.Status", s) for s in TERMINAL_STATUSES))
        poll.next(sfn.Choice(self, "JobFinished").when(ended, done).otherwise(wait))
        wait.next(done)
        return create.next(wait)

    # ================================================================= events, triggers, alarm

    def _build_job_events(self) -> None:
        """Bedrock's "Batch Inference Job State Change" events of this construct's jobs resume their runs."""
        self.job_event_rule = events.Rule(
            self,
            "JobStateRule",
            description="Bedrock batch jobs of this pipeline ended: resume their runs",
            event_pattern=events.EventPattern(
                source=["aws.bedrock"],
                detail_type=["Batch Inference Job State Change"],
                detail={
                    "batchJobName": [{"prefix": f"{self.job_name_prefix}-"}],
                    "status": list(TERMINAL_STATUSES),
                },
            ),
            targets=[targets.LambdaFunction(self.callback_function, retry_attempts=8)],
        )

    def _build_triggers(self, trigger_on_upload: bool, schedule: OffPeakWindow | None) -> None:
        self.upload_rule: events.Rule | None = None
        if trigger_on_upload:
            role = iam.Role(
                self,
                "UploadTriggerRole",
                description="EventBridge: start a Bedrock batch run for an uploaded input",
                assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            )
            iam.ManagedPolicy(
                self,
                "UploadTriggerPolicy",
                description="EventBridge may start exactly the Bedrock batch run state machine",
                roles=[role],
                statements=[
                    iam.PolicyStatement(
                        sid="StartRun",
                        actions=["states:StartExecution"],
                        resources=[self.state_machine.state_machine_arn],
                    )
                ],
            )
            self.upload_rule = events.Rule(
                self,
                "UploadRule",
                description="A JSONL file was uploaded under the batch input prefix: start a run for it",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={
                        "bucket": {"name": [self.input_bucket.bucket_name]},
                        "object": {"key": [{"wildcard": f"{self.input_prefix}*.jsonl"}]},
                    },
                ),
                targets=[targets.SfnStateMachine(self.state_machine, role=role.without_policy_updates())],
            )
        self.schedule = (
            offpeak_schedule(
                self, "Schedule", window=schedule, state_machine=self.state_machine, input_note="scheduled"
            )
            if schedule is not None
            else None
        )

    def _build_alarm(self, alarm_topic: sns.ITopic | None) -> None:
        self.failure_alarm = threshold_alarm(
            self,
            "FailedRunsAlarm",
            self.metric_failed_runs(),
            threshold=1,
            description="A Bedrock batch run failed or timed out (see its summary or the execution's error)",
            topic=alarm_topic,
        )


def props_problems(
    *,
    model_id: str,
    foundation_model_ids: list[str] | None = None,
    invocation_type: BatchInvocationType = BatchInvocationType.CONVERSE,
    input_format: BatchInputFormat = BatchInputFormat.AUTO,
    input_prefix: str = "input/",
    schedule: OffPeakWindow | None = None,
    job_name_prefix: str = "batch",
    job_timeout: cdk.Duration | None = None,
    max_concurrent_jobs: int = 5,
    poll_interval: cdk.Duration | None = None,
    limits: BatchLimits | None = None,
    retention: cdk.Duration | None = None,
    schedule_prop: str = "schedule",
) -> list[str]:
    """Every problem :class:`BedrockBatchInference` reports about these props (its ``BATCH.*`` rules included),
    without building anything, so a stack's settings parser reports them in the same pass as its own
    (``stacks/batch_stack.py``). ``schedule_prop`` names the window in the messages."""
    job_timeout = job_timeout or cdk.Duration.hours(24)
    poll_interval = poll_interval or cdk.Duration.hours(1)
    limits = limits or BatchLimits()
    retention = retention or cdk.Duration.days(90)
    out: list[str] = []
    if not (input_prefix.endswith("/") and not input_prefix.startswith("/") and input_prefix != "/"):
        out.append(f"input_prefix must be a folder like 'input/' (no leading '/', trailing '/'), got {input_prefix!r}")
    if input_prefix.startswith(_RUNS_PREFIX):
        out.append(f"input_prefix {input_prefix!r} must not be inside {_RUNS_PREFIX!r} (the runs' own files)")
    if input_format is BatchInputFormat.OPENAI and invocation_type is not BatchInvocationType.CONVERSE:
        out.append(
            "input_format OPENAI is converted to Converse records: use invocation_type BatchInvocationType.CONVERSE"
        )
    if model_id.startswith("arn:") and not foundation_model_ids:
        out.append(
            f"model_id {model_id!r} is an ARN: pass foundation_model_ids (the models it routes to) so the service role "
            "may invoke them"
        )
    if int(limits.max_file_size.to_bytes()) < 1024**2:
        out.append("fallback_limits.max_file_size must be at least 1 MiB")
    if retention.to_days(integral=False) < 1:
        out.append("retention must be at least 1 day")
    if poll_interval.to_minutes(integral=False) < 5:
        out.append("poll_interval must be at least 5 minutes (jobs run for minutes to hours)")
    out += JOBS.problems(
        JobPlan(
            model_id=model_id,
            job_name_prefix=job_name_prefix,
            timeout_hours=job_timeout.to_hours(integral=False),
            fallback_min_records=limits.min_records,
            fallback_max_records=limits.max_records,
            runs_prefix=_RUNS_PREFIX,
            max_concurrent_jobs=max_concurrent_jobs,
        )
    )
    if schedule is not None:
        out += WINDOWS.problems(WindowPlan(prop=schedule_prop, window=schedule))
    return out


_STAR_REASON = (
    "X-Ray (and, for the state machine, CloudWatch Logs vended-log delivery) have no resource-level permissions; "
    "AWS requires '*'. Service Quotas ListServiceQuotas has none either (prepare function only)"
)

__all__ = ["BedrockBatchInference", "TokenPrice", "default_batch_price", "foundation_model_of", "props_problems"]
