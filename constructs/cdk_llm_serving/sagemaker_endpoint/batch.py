"""LlmBatchPipeline: batch generation with SageMaker Batch Transform, orchestrated by Step Functions.

Batch transform is a job, not a CloudFormation resource, so the pipeline is a state machine that
runs ``CreateTransformJob`` synchronously (``.sync``) with a unique job name per run, started on a
schedule, on uploads to the input prefix, or by hand (``aws stepfunctions start-execution``).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .._alarms import threshold_alarm
from .._errors import ProblemCollector
from .._nag import acknowledge, nag_resource
from .._types import typed_props
from .instances import instance_spec
from .rules import BATCH_RULES, BatchPlan

_SPLIT = {
    "LINE": tasks.SplitType.LINE,
    "NONE": tasks.SplitType.NONE,
    "RECORD_IO": tasks.SplitType.RECORD_IO,
    "TF_RECORD": tasks.SplitType.TF_RECORD,
}
_STRATEGY = {"SINGLE_RECORD": tasks.BatchStrategy.SINGLE_RECORD, "MULTI_RECORD": tasks.BatchStrategy.MULTI_RECORD}
#: Default per-request timeout: SageMaker's own 60 s is too short for generation.
DEFAULT_INVOCATION_TIMEOUT = cdk.Duration.minutes(30)
DEFAULT_JOB_TIMEOUT = cdk.Duration.hours(12)


class LlmBatchPipeline(Construct):
    """A Step Functions pipeline that runs a batch transform of a SageMaker model over an S3 prefix.

    Usually created with :meth:`SageMakerLlmEndpoint.add_batch_transform`. Each run writes
    ``<output_prefix><job name>/`` with one output line per input line (``SplitType.LINE``).
    """

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: sagemaker.CfnModel,
        model_role: iam.IRole,
        model_policy: iam.ManagedPolicy,
        input_bucket: s3.IBucket,
        input_prefix: str = "batch/input/",
        output_bucket: s3.IBucket | None = None,
        output_prefix: str = "batch/output/",
        instance_type: str = "ml.g5.2xlarge",
        instance_count: int = 1,
        max_concurrent_transforms: int | None = None,
        max_payload_mb: int = 6,
        split_type: str = "LINE",
        batch_strategy: str = "SINGLE_RECORD",
        content_type: str = "application/jsonlines",
        invocation_timeout: cdk.Duration | None = None,
        invocation_max_retries: int = 1,
        job_timeout: cdk.Duration | None = None,
        schedule: events.Schedule | None = None,
        trigger_on_upload: bool = False,
        encryption_key: kms.IKey | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        """
        :param model: the SageMaker model to run. Its container must not use ``ModelDataSource``
            (``ModelSource.s3_prefix``), which batch transform does not support (rule ``SAGEMAKER.MODEL_DATA_SOURCE_BATCH``).
        :param model_role: the model's execution role; transform jobs run with it.
        :param model_policy: the managed policy of that role; the pipeline adds exactly its input, output and key grants.
        :param input_bucket: where the JSON Lines inputs are. With ``trigger_on_upload`` it must send events to EventBridge.
        :param input_prefix: the folder of the inputs. Default: ``batch/input/``
        :param output_bucket: where the outputs go. Default: - ``input_bucket``
        :param output_prefix: the folder of the outputs (not inside ``input_prefix``). Default: ``batch/output/``
        :param instance_type: the ``ml.*`` type of the transform instances. Default: - the endpoint's instance type with
            :meth:`SageMakerLlmEndpoint.add_batch_transform`, ``ml.g5.2xlarge`` when created directly
        :param instance_count: transform instances. Default: 1
        :param max_concurrent_transforms: parallel requests per instance. Default: - SageMaker's (1 for most containers)
        :param max_payload_mb: 1-100 MB per request. Default: 6.
        :param split_type: ``LINE``, ``NONE``, ``RECORD_IO`` or ``TF_RECORD``. Default: ``LINE``
        :param batch_strategy: ``SINGLE_RECORD`` (one prompt per request) or ``MULTI_RECORD``. Default: ``SINGLE_RECORD``
        :param content_type: MIME type of inputs and outputs. Default: ``application/jsonlines``
        :param invocation_timeout: per request, 1-60 minutes. Default: - 30 minutes (SageMaker's 60 s is too short for generation)
        :param invocation_max_retries: 0-3. Default: 1.
        :param job_timeout: the whole run. Default: - 12 hours
        :param schedule: run on a schedule. Default: - none
        :param trigger_on_upload: run when an object is created under ``input_prefix``. Default: false
        :param encryption_key: encrypts the outputs, the run logs and (when the instance type allows it) the ML storage
            volumes; a key created outside this app must allow CloudWatch Logs (``logs.<region>.amazonaws.com``) in its
            key policy. Default: - the endpoint's key with :meth:`SageMakerLlmEndpoint.add_batch_transform`, else a new
            customer-managed KMS key with rotation
        :param alarm_topic: notified when the failure alarm changes to ALARM or OK. Default: - the endpoint's
            ``alarm_topic`` with :meth:`SageMakerLlmEndpoint.add_batch_transform`, else the alarm has no actions
        """
        super().__init__(scope, construct_id)
        output_bucket = output_bucket or input_bucket
        invocation_timeout = invocation_timeout or DEFAULT_INVOCATION_TIMEOUT
        job_timeout = job_timeout or DEFAULT_JOB_TIMEOUT
        self._validate(
            model=model,
            instance_type=instance_type,
            instance_count=instance_count,
            max_payload_mb=max_payload_mb,
            split_type=split_type,
            batch_strategy=batch_strategy,
            invocation_timeout=invocation_timeout,
            invocation_max_retries=invocation_max_retries,
            input_bucket=input_bucket,
            input_prefix=input_prefix,
            output_bucket=output_bucket,
            output_prefix=output_prefix,
        )
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, description="SageMaker batch transform outputs, volumes and run logs"
        )
        key = self.encryption_key
        self.input_uri = f"s3://{input_bucket.bucket_name}/{input_prefix}"
        self.output_uri = f"s3://{output_bucket.bucket_name}/{output_prefix}"
        self._grant_model_role(
            model_policy,
            input_bucket=input_bucket,
            input_prefix=input_prefix,
            output_bucket=output_bucket,
            output_prefix=output_prefix,
        )
        transform = self._transform_task(
            model=model,
            model_role=model_role,
            content_type=content_type,
            split_type=split_type,
            key=key,
            instance_type=instance_type,
            instance_count=instance_count,
            batch_strategy=batch_strategy,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload_mb=max_payload_mb,
            invocation_max_retries=invocation_max_retries,
            invocation_timeout=invocation_timeout,
            job_timeout=job_timeout,
        )
        self._build_state_machine(transform, key=key, job_timeout=job_timeout)
        self._build_triggers(
            schedule=schedule, trigger_on_upload=trigger_on_upload, input_bucket=input_bucket, input_prefix=input_prefix
        )
        self._build_failure_alarm(alarm_topic)

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow starting a run by hand."""
        return self.state_machine.grant_start_execution(grantee)

    # ============================================================== builders

    def _validate(
        self,
        *,
        model: sagemaker.CfnModel,
        instance_type: str,
        instance_count: int,
        max_payload_mb: int,
        split_type: str,
        batch_strategy: str,
        invocation_timeout: cdk.Duration,
        invocation_max_retries: int,
        input_bucket: s3.IBucket,
        input_prefix: str,
        output_bucket: s3.IBucket,
        output_prefix: str,
    ) -> None:
        p = ProblemCollector.for_construct(self)
        p.check(instance_type.startswith("ml."), f"instance_type must start with 'ml.', got {instance_type!r}")
        p.check(1 <= instance_count <= 100, f"instance_count must be between 1 and 100, got {instance_count}")
        p.check(1 <= max_payload_mb <= 100, f"max_payload_mb must be between 1 and 100, got {max_payload_mb}")
        p.check(split_type in _SPLIT, f"split_type must be one of {', '.join(_SPLIT)}, got {split_type!r}")
        p.check(
            batch_strategy in _STRATEGY, f"batch_strategy must be one of {', '.join(_STRATEGY)}, got {batch_strategy!r}"
        )
        p.check(60 <= invocation_timeout.to_seconds() <= 3600, "invocation_timeout must be between 1 and 60 minutes")
        p.check(
            0 <= invocation_max_retries <= 3,
            f"invocation_max_retries must be between 0 and 3, got {invocation_max_retries}",
        )
        for name, prefix in (("input_prefix", input_prefix), ("output_prefix", output_prefix)):
            p.check(
                prefix.endswith("/") and not prefix.startswith("/"),
                f"{name} must be a folder like 'batch/input/' (no leading '/', trailing '/'), got {prefix!r}",
            )
        p.check(
            not (input_bucket is output_bucket and output_prefix.startswith(input_prefix)),
            "output_prefix must not be inside input_prefix (outputs would trigger and feed the next run)",
        )
        for problem in BATCH_RULES.problems(
            BatchPlan(model_path=model.node.path, uses_model_data_source=_uses_model_data_source(model))
        ):
            p.add(problem)
        p.raise_if_any()

    def _grant_model_role(
        self,
        model_policy: iam.ManagedPolicy,
        *,
        input_bucket: s3.IBucket,
        input_prefix: str,
        output_bucket: s3.IBucket,
        output_prefix: str,
    ) -> None:
        """The transform job reads and writes S3 with the model's execution role."""
        model_policy.add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[input_bucket.arn_for_objects(input_prefix + "*")]),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[input_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [input_prefix + "*"]}},
            ),
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[output_bucket.arn_for_objects(output_prefix + "*")],
            ),
        )
        # SSE-KMS buckets, and the output key: "The KMS key policy must grant permission to the IAM role that you
        # specify in your CreateModel request" (botocore TransformOutput.KmsKeyId).
        keys = {id(k): k for k in (input_bucket.encryption_key, output_bucket.encryption_key, self.encryption_key) if k}
        for key in keys.values():
            model_policy.add_statements(
                iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn])
            )
        for bucket, prefix in ((input_bucket, input_prefix), (output_bucket, output_prefix)):
            acknowledge(
                model_policy,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, bucket.arn_for_objects(prefix + '*'))}]",
                "Batch inputs and outputs are many objects under one prefix; access is limited to exactly that prefix",
            )

    def _transform_task(
        self,
        *,
        model: sagemaker.CfnModel,
        model_role: iam.IRole,
        content_type: str,
        split_type: str,
        key: kms.IKey,
        instance_type: str,
        instance_count: int,
        batch_strategy: str,
        max_concurrent_transforms: int | None,
        max_payload_mb: int,
        invocation_max_retries: int,
        invocation_timeout: cdk.Duration,
        job_timeout: cdk.Duration,
    ) -> tasks.SageMakerCreateTransformJob:
        """The ``CreateTransformJob.sync`` task: one job per run, over ``input_uri`` into ``output_uri``."""
        return tasks.SageMakerCreateTransformJob(
            self,
            "TransformJob",
            # Unique per run, at most 63 characters ("llm-batch-" + 36-character UUID).
            transform_job_name=sfn.JsonPath.format("llm-batch-{}", sfn.JsonPath.uuid()),
            model_name=model.attr_model_name,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            # CreateTransformJob takes no role (the model's role is used); passing ours stops CDK from
            # creating a default one with AmazonSageMakerFullAccess.
            role=model_role,
            transform_input=tasks.TransformInput(
                transform_data_source=tasks.TransformDataSource(
                    s3_data_source=tasks.TransformS3DataSource(
                        s3_uri=self.input_uri, s3_data_type=tasks.S3DataType.S3_PREFIX
                    )
                ),
                content_type=content_type,
                split_type=_SPLIT[split_type],
            ),
            transform_output=tasks.TransformOutput(
                s3_output_path=self.output_uri,
                assemble_with=tasks.AssembleWith.LINE,
                accept=content_type,
                encryption_key=key,
            ),
            transform_resources=self._resources(instance_type, instance_count, key),
            batch_strategy=_STRATEGY[batch_strategy],
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=cdk.Size.mebibytes(max_payload_mb),
            model_client_options=tasks.ModelClientOptions(
                invocations_max_retries=invocation_max_retries, invocations_timeout=invocation_timeout
            ),
            task_timeout=sfn.Timeout.duration(job_timeout),
        )

    @staticmethod
    def _resources(instance_type: str, instance_count: int, key: kms.IKey) -> tasks.TransformResources:
        spec = instance_spec(instance_type)
        return tasks.TransformResources(
            instance_count=instance_count,
            instance_type=ec2.InstanceType(instance_type.removeprefix("ml.")),
            volume_encryption_key=key if spec is not None and not spec.local_nvme else None,
        )

    def _build_state_machine(
        self, transform: tasks.SageMakerCreateTransformJob, *, key: kms.IKey, job_timeout: cdk.Duration
    ) -> None:
        failed = sfn.Fail(
            self, "Failed", error="TransformJobFailed", cause="The batch transform job failed; see its FailureReason"
        )
        transform.add_catch(failed, errors=["States.ALL"])
        definition = transform.next(sfn.Succeed(self, "Succeeded"))
        # CloudWatch Logs encrypts with the key only if its key policy allows the service (CloudWatch Logs User Guide,
        # encrypt-log-data-kms.html); a key of this app gets the statement, an imported one must have it already.
        key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            timeout=job_timeout.plus(cdk.Duration.minutes(30)),
        )
        self._acknowledge_generated_role()

    def _build_triggers(
        self, *, schedule: events.Schedule | None, trigger_on_upload: bool, input_bucket: s3.IBucket, input_prefix: str
    ) -> None:
        self.rules: list[events.Rule] = []
        if schedule is not None:
            self.rules.append(
                events.Rule(
                    self, "ScheduleRule", schedule=schedule, targets=[targets.SfnStateMachine(self.state_machine)]
                )
            )
        if trigger_on_upload:
            self.rules.append(
                events.Rule(
                    self,
                    "UploadRule",
                    event_pattern=events.EventPattern(
                        source=["aws.s3"],
                        detail_type=["Object Created"],
                        detail={
                            "bucket": {"name": [input_bucket.bucket_name]},
                            "object": {"key": [{"prefix": input_prefix}]},
                        },
                    ),
                    targets=[targets.SfnStateMachine(self.state_machine)],
                )
            )

    def _build_failure_alarm(self, alarm_topic: sns.ITopic | None) -> None:
        self.failure_alarm = threshold_alarm(
            self,
            "FailedAlarm",
            self.state_machine.metric_failed(period=cdk.Duration.minutes(5)),
            threshold=1,
            description="A batch generation run failed",
            topic=alarm_topic,
        )
        events_role = self.state_machine.node.try_find_child("EventsRole")
        if events_role is not None:
            acknowledge(
                events_role,
                "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
                "EventBridge's target role, generated by CDK with only states:StartExecution on this state machine",
            )

    def _acknowledge_generated_role(self) -> None:
        role = self.state_machine.role
        acknowledge(
            role,
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "Step Functions generates this role's policy from the task (CreateTransformJob .sync); it is scoped to this state machine",
        )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:transform-job/*]",
            "Generated by the CreateTransformJob .sync integration: job names are generated per run (llm-batch-<uuid>)",
        )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "X-Ray and CloudWatch Logs delivery actions of Step Functions have no resource-level permissions; AWS requires '*'. "
            "sagemaker:ListTags on '*' is generated by CDK's SageMakerCreateTransformJob task (read-only)",
        )


def _uses_model_data_source(model: sagemaker.CfnModel) -> bool:
    """Whether any container definition of ``model`` loads its weights with ``ModelDataSource``."""
    stack = cdk.Stack.of(model)
    containers = [stack.resolve(model.primary_container)] + list(stack.resolve(model.containers) or [])
    return any(isinstance(c, dict) and c.get("modelDataSource") is not None for c in containers)
