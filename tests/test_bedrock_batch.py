"""BedrockBatchInference and BatchStack: the upstream rules (each with a negative test citing its source), the
service role's trust, the state machine's shape, the triggers, the off-peak window, the settings, and an ASL
validator (statelint) over every state machine the library generates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from cdk_llm_serving import (
    BatchInputFormat,
    BatchInvocationType,
    BatchLimits,
    BedrockBatchInference,
    OffPeakWindow,
    PropsValidationError,
)
from cdk_llm_serving.bedrock_batch import JOBS, WINDOWS, JobPlan, WindowPlan
from cdk_llm_serving.bedrock_batch.construct import default_batch_price, foundation_model_of
from harness import Synthesis, expect_rule, flat_statements, resources
from stacks import BatchSettings, BatchStack
from test_sagemaker_docs import _is_dataclass, _is_enum, _members, _params

_PLAN = JobPlan(
    model_id="us.amazon.nova-lite-v1:0",
    job_name_prefix="batch",
    timeout_hours=24,
    fallback_min_records=100,
    fallback_max_records=50_000,
    runs_prefix="runs/",
    max_concurrent_jobs=5,
)


def _plan(**over: Any) -> JobPlan:
    return JobPlan(**{**_PLAN.__dict__, **over})


def _window(**over: Any) -> WindowPlan:
    return WindowPlan(prop="schedule", window=OffPeakWindow(**over))


def _build(**props: Any) -> BedrockBatchInference:
    stack = cdk.Stack(cdk.App(), "T")
    return BedrockBatchInference(stack, "Batch", **{"model_id": "amazon.nova-lite-v1:0", **props})


# ------------------------------------------------------------------------------------------- rules


def test_defaults_pass_every_rule() -> None:
    assert JOBS.problems(_PLAN) == []
    assert WINDOWS.problems(_window()) == []
    assert WINDOWS.problems(_window(start="23:30", days="MON-FRI", time_zone="Europe/Paris")) == []


def test_job_name_rule() -> None:
    # botocore bedrock 2023-04-20 ModelInvocationJobName: max 63, [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63};
    # our names are <prefix>-<20 hex>-<4 digits> (26 characters after the prefix).
    assert "at most 37 characters" in expect_rule("BATCH.JOB_NAME", JOBS.problems(_plan(job_name_prefix="x" * 38)))
    expect_rule("BATCH.JOB_NAME", JOBS.problems(_plan(job_name_prefix="-batch")))
    expect_rule("BATCH.JOB_NAME", lambda: _build(job_name_prefix="nightly_run"))
    assert JOBS.problems(_plan(job_name_prefix="x" * 37)) == []


def test_timeout_hours_rule() -> None:
    # botocore ModelInvocationJobTimeoutDurationInHours: integer, min 24, max 168.
    expect_rule("BATCH.TIMEOUT_HOURS", lambda: _build(job_timeout=cdk.Duration.hours(12)))
    expect_rule("BATCH.TIMEOUT_HOURS", JOBS.problems(_plan(timeout_hours=169)))
    expect_rule("BATCH.TIMEOUT_HOURS", lambda: _build(job_timeout=cdk.Duration.minutes(24 * 60 + 30)))
    assert JOBS.problems(_plan(timeout_hours=168)) == []


def test_record_count_fallbacks_rule() -> None:
    # Bedrock user guide batch-inference-example: a job needs at least the "Minimum number of records per batch
    # inference job" quota (default 100) records.
    expect_rule("BATCH.RECORD_COUNT_FALLBACKS", lambda: _build(fallback_limits=BatchLimits(min_records=10)))
    msg = expect_rule(
        "BATCH.RECORD_COUNT_FALLBACKS", JOBS.problems(_plan(fallback_min_records=200, fallback_max_records=150))
    )
    assert "below min_records" in msg


def test_model_id_rule() -> None:
    # botocore ModelId pattern (CreateModelInvocationJobRequest.modelId); "Batch inference isn't supported for
    # provisioned models" (Bedrock user guide).
    provisioned = "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123"
    assert "provisioned" in expect_rule("BATCH.MODEL_ID", JOBS.problems(_plan(model_id=provisioned)))
    expect_rule("BATCH.MODEL_ID", JOBS.problems(_plan(model_id="Amazon Nova Lite")))
    for ok in (
        "amazon.nova-lite-v1:0",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
    ):
        assert JOBS.problems(_plan(model_id=ok)) == [], ok


def test_s3_uri_rule() -> None:
    # botocore S3Uri of ModelInvocationJobS3InputDataConfig: s3://bucket(/segment of -!_*'().a-zA-Z0-9)*/?
    expect_rule("BATCH.S3_URI", JOBS.problems(_plan(runs_prefix="runs with spaces/")))
    expect_rule("BATCH.S3_URI", JOBS.problems(_plan(runs_prefix="runs")))
    expect_rule("BATCH.S3_URI", JOBS.problems(_plan(runs_prefix="a" * 1000 + "/")))


def test_concurrent_jobs_rule() -> None:
    # "Sum of in-progress and submitted batch inference jobs using a base model" quota, default 20.
    expect_rule("BATCH.CONCURRENT_JOBS", lambda: _build(max_concurrent_jobs=20))
    expect_rule("BATCH.CONCURRENT_JOBS", JOBS.problems(_plan(max_concurrent_jobs=0)))


def test_schedule_time_zone_rule() -> None:
    # EventBridge Scheduler ScheduleExpressionTimezone / Application Auto Scaling Timezone: IANA names.
    expect_rule("BATCH.SCHEDULE_TIME_ZONE", lambda: _build(schedule=OffPeakWindow(time_zone="CET+1")))
    expect_rule("BATCH.SCHEDULE_TIME_ZONE", WINDOWS.problems(_window(time_zone="Paris")))


def test_flexible_window_rule() -> None:
    # EventBridge Scheduler FlexibleTimeWindow.MaximumWindowInMinutes: 1-1440.
    expect_rule("BATCH.SCHEDULER_FLEXIBLE_WINDOW", WINDOWS.problems(_window(flexible_window=cdk.Duration.hours(25))))
    expect_rule("BATCH.SCHEDULER_FLEXIBLE_WINDOW", WINDOWS.problems(_window(flexible_window=cdk.Duration.seconds(30))))
    assert WINDOWS.problems(_window(flexible_window=cdk.Duration.minutes(0))) == []  # OFF


def test_cron_fields_rule() -> None:
    # Application Auto Scaling scheduled-scaling-using-cron-expressions: six fields, '?' in a day field;
    # EventBridge cron reference: day-of-week 1-7 or SUN-SAT.
    expect_rule("BATCH.CRON_FIELDS", WINDOWS.problems(_window(start="25:00")))
    expect_rule("BATCH.CRON_FIELDS", WINDOWS.problems(_window(days="weekdays")))
    expect_rule("BATCH.CRON_FIELDS", WINDOWS.problems(_window(days="MON FRI")))


def test_window_expressions_cross_midnight_to_the_next_day() -> None:
    w = OffPeakWindow(start="22:30", days="MON-FRI", duration=cdk.Duration.hours(8))
    assert w.scheduler_expression() == "cron(30 22 ? * MON-FRI *)"
    assert w.scaling_expressions() == ("cron(30 22 ? * MON-FRI *)", "cron(30 6 ? * TUE-SAT *)")
    assert OffPeakWindow(start="01:00", days="SAT,7").scaling_expressions()[1] == "cron(0 7 ? * SAT,7 *)"
    assert OffPeakWindow(start="20:00", days="SAT,7").scaling_expressions()[1] == "cron(0 2 ? * SUN,1 *)"


def test_props_problems_are_reported_together() -> None:
    with pytest.raises(PropsValidationError) as exc:
        _build(
            input_prefix="/in",
            input_format=BatchInputFormat.OPENAI,
            invocation_type=BatchInvocationType.INVOKE_MODEL,
            model_id="arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc",
            poll_interval=cdk.Duration.minutes(1),
        )
    text = str(exc.value)
    for part in ("input_prefix", "Converse", "foundation_model_ids", "poll_interval"):
        assert part in text


def test_prices_and_foundation_models() -> None:
    assert foundation_model_of("us.amazon.nova-lite-v1:0") == "amazon.nova-lite-v1:0"
    price = default_batch_price("us.amazon.nova-lite-v1:0")
    assert price is not None and price.input_per_million == pytest.approx(0.03)  # half of $0.06 on demand
    assert default_batch_price("arn:aws:bedrock:us-east-1:1:application-inference-profile/x") is None


def test_every_prop_option_field_and_enum_member_states_its_default() -> None:
    # Convention 11, as tests/test_sagemaker_docs.py checks it for the SageMaker family.
    import ast
    import inspect

    import cdk_llm_serving.bedrock_batch as family

    problems = []
    for path in sorted(Path(family.__file__).parent.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            for name, has_default, doc in _members(node) if (_is_enum(node) or _is_dataclass(node)) else []:
                if not doc:
                    problems.append(f"{path.name}: {node.name}.{name} has no docstring")
                elif has_default and _is_dataclass(node) and "Default" not in doc:
                    problems.append(f"{path.name}: {node.name}.{name} does not state its default")
    params = _params(BedrockBatchInference.__init__)
    for name, p in inspect.signature(BedrockBatchInference.__init__).parameters.items():
        if name in ("self", "scope", "construct_id"):
            continue
        if name not in params:
            problems.append(f"{name}: no :param line")
        elif p.default is not p.empty and "Default" not in params[name]:
            problems.append(f"{name}: does not state its default")
    assert not problems, problems


# ------------------------------------------------------------------------------------------- templates


def _role_by_service(template: dict[str, Any], service: str) -> tuple[str, dict[str, Any]]:
    found = [
        (lid, r)
        for lid, r in resources(template, "AWS::IAM::Role").items()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service") == service
    ]
    assert len(found) == 1, found
    return found[0]


def _policy_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    out = []
    for r in resources(template, "AWS::IAM::ManagedPolicy").values():
        if {"Ref": role_id} in r["Properties"].get("Roles", []):
            out += flat_statements(r["Properties"]["PolicyDocument"]["Statement"])
    return out


def test_service_role_is_trusted_by_bedrock_for_this_accounts_batch_jobs_only(synthesis: Synthesis) -> None:
    # Bedrock user guide batch-iam-sr.html: StringEquals aws:SourceAccount and ArnEquals aws:SourceArn
    # arn:aws:bedrock:<region>:<account>:model-invocation-job/*.
    template = synthesis.templates["BatchStack"]
    role_id, role = _role_by_service(template, "bedrock.amazonaws.com")
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    arn = json.dumps(trust["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert ":model-invocation-job/*" in arn and "AWS::Region" in arn
    statements = _policy_statements(template, role_id)
    actions = {s["Action"] for s in statements}
    assert actions == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "bedrock:InvokeModel",
    }
    assert all(s["Resource"] != "*" for s in statements)
    invoke = {json.dumps(s["Resource"]) for s in statements if s["Action"] == "bedrock:InvokeModel"}
    assert any("inference-profile/us.amazon.nova-lite-v1:0" in r for r in invoke)
    assert any("bedrock:*::foundation-model/amazon.nova-lite-v1:0" in r for r in invoke)


def test_application_profile_is_invoked_with_its_foundation_models(synthesis: Synthesis) -> None:
    template = synthesis.templates["BedrockBatchProfileStack"]
    role_id, _ = _role_by_service(template, "bedrock.amazonaws.com")
    invoke = {
        json.dumps(s["Resource"]) for s in _policy_statements(template, role_id) if s["Action"] == "bedrock:InvokeModel"
    }
    assert '"arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6"' in invoke
    assert any("foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0" in r for r in invoke)


def test_state_machine_passes_the_role_only_to_bedrock_and_creates_jobs_by_sdk(synthesis: Synthesis) -> None:
    template = synthesis.templates["BatchStack"]
    role_id, _ = _role_by_service(template, "states.amazonaws.com")
    statements = _policy_statements(template, role_id)
    (passrole,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    wildcard = {s["Action"] for s in statements if s["Resource"] == "*"}
    assert wildcard <= {
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    }  # fmt: skip
    definition = _definition(template)
    states = definition["States"]["SubmitJobs"]
    assert states["MaxConcurrency"] == 5
    inner = states["ItemProcessor"]["States"]
    create = inner["CreateJob"]
    assert create["Resource"].endswith(":states:::aws-sdk:bedrock:createModelInvocationJob")
    params = create["Parameters"]
    assert params["ModelInvocationType"] == "Converse" and params["TimeoutDurationInHours"] == 24
    assert params["ClientRequestToken.$"] == "$.client_request_token" and params["JobName.$"] == "$.job_name"
    assert inner["WaitForJobEvent"]["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert inner["WaitForJobEvent"]["TimeoutSeconds"] == 3600
    assert inner["WaitForJobEvent"]["Catch"][0] == {
        "ErrorEquals": ["States.Timeout"],
        "ResultPath": "$.timeout",
        "Next": "PollJob",
    }
    assert inner["PollJob"]["Resource"].endswith(":states:::aws-sdk:bedrock:getModelInvocationJob")
    assert inner["JobFinished"]["Default"] == "WaitForJobEvent"


def test_job_events_resume_runs_and_uploads_start_them(synthesis: Synthesis) -> None:
    template = synthesis.templates["BatchStack"]
    patterns = [r["Properties"].get("EventPattern") for r in resources(template, "AWS::Events::Rule").values()]
    job = next(p for p in patterns if p and p["source"] == ["aws.bedrock"])
    assert job["detail-type"] == ["Batch Inference Job State Change"]
    assert job["detail"]["batchJobName"] == [{"prefix": "batch-"}]
    assert set(job["detail"]["status"]) == {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"}
    upload = next(p for p in patterns if p and p["source"] == ["aws.s3"])
    assert upload["detail"]["object"]["key"] == [{"wildcard": "input/*.jsonl"}]


def test_off_peak_schedule_has_a_time_zone_and_a_flexible_window(synthesis: Synthesis) -> None:
    (schedule,) = resources(synthesis.templates["BedrockBatchProfileStack"], "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(30 22 ? * MON-FRI *)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert props["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    (tokyo,) = resources(synthesis.templates["BatchTransformStack"], "AWS::Scheduler::Schedule").values()
    assert tokyo["Properties"]["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    _, role = _role_by_service(synthesis.templates["BatchTransformStack"], "scheduler.amazonaws.com")
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_async_endpoint_is_warm_in_the_window_and_released_after(synthesis: Synthesis) -> None:
    (target,) = resources(
        synthesis.templates["BatchAsyncStack"], "AWS::ApplicationAutoScaling::ScalableTarget"
    ).values()
    actions = target["Properties"]["ScheduledActions"]
    assert [(a["Schedule"], a["ScalableTargetAction"], a["Timezone"]) for a in actions] == [
        ("cron(0 20 ? * * *)", {"MinCapacity": 1}, "UTC"),
        ("cron(0 2 ? * * *)", {"MinCapacity": 0}, "UTC"),
    ]
    assert target["Properties"]["MinCapacity"] == 0 and target["Properties"]["MaxCapacity"] == 2
    policies = resources(synthesis.templates["BatchAsyncStack"], "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert policies, "backlog scaling stays in place next to the scheduled capacity"


# ------------------------------------------------------------------------------------------- settings


def test_settings_report_every_problem_in_setting_terms() -> None:
    with pytest.raises(PropsValidationError) as exc:
        BatchSettings.from_context(
            {
                "time_zone": "Mars/Olympus",
                "window_start": "7am",
                "job_timeout_hours": 6,
                "max_concurrent_jobs": 50,
                "notification_email": "nobody",
                "model_id": "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc",
                "unknown": 1,
            }
        )
    text = str(exc.value)
    for part in (
        "[BATCH.SCHEDULE_TIME_ZONE] setting 'time_zone'",
        "[BATCH.CRON_FIELDS] setting 'window_start'",
        "[BATCH.TIMEOUT_HOURS]",
        "[BATCH.CONCURRENT_JOBS]",
        "notification_email",
        "setting 'model_id' 'arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc' is an ARN: pass setting 'foundation_model_ids'",
        "unknown setting 'unknown'",
    ):
        assert part in text, part


def test_settings_name_the_backends() -> None:
    with pytest.raises(
        PropsValidationError, match="setting 'backend' must be one of bedrock, sagemaker-transform, sagemaker-async"
    ):
        BatchSettings.from_context({"backend": "spark"})


def test_stack_outputs_say_how_to_run(synthesis: Synthesis) -> None:
    outputs = synthesis.templates["BatchStack"]["Outputs"]
    assert {"InputBucketName", "OutputBucketName", "StateMachineArn", "StartRunCommand", "NotificationTopicArn"} <= set(
        outputs
    )
    assert "start-execution" in json.dumps(outputs["StartRunCommand"]["Value"])


def test_settings_built_in_code_are_checked_too() -> None:
    with pytest.raises(PropsValidationError, match="BATCH.SCHEDULER_FLEXIBLE_WINDOW"):
        BatchStack(cdk.App(), "Bad", settings=BatchSettings(flexible_window_minutes=2000))


# ------------------------------------------------------------------------------------------- ASL validation


def _render(value: Any) -> str:
    """A DefinitionString with its CloudFormation tokens replaced by placeholder ARNs (statelint reads JSON)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(_render(p) for p in parts)
    if "Ref" in value:
        return f"arn:aws:placeholder:us-east-1:111122223333:ref/{value['Ref']}"
    if "Fn::GetAtt" in value:
        return "arn:aws:placeholder:us-east-1:111122223333:getatt/" + "/".join(value["Fn::GetAtt"])
    raise AssertionError(f"unexpected token in a state machine definition: {value}")


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    parsed: dict[str, Any] = json.loads(_render(machine["Properties"]["DefinitionString"]))
    return parsed


def _statelint() -> str:
    found = shutil.which("statelint") or str(Path(sys.executable).parent / "statelint")
    assert Path(found).exists(), "statelint is pinned in requirements-dev.txt; install the dev requirements"
    return found


def test_every_generated_state_machine_passes_statelint(synthesis: Synthesis, tmp_path: Path) -> None:
    checked = []
    for stack_name, template in sorted(synthesis.templates.items()):
        for lid, machine in resources(template, "AWS::StepFunctions::StateMachine").items():
            path = tmp_path / f"{stack_name}-{lid}.json"
            path.write_text(_render(machine["Properties"]["DefinitionString"]))
            result = subprocess.run([_statelint(), str(path)], capture_output=True, text=True, check=False)
            # CDK renders BackoffRate as an integer (2), statelint 3.1.0 wants a float: that complaint is the
            # only one ignored (the Step Functions service accepts integers).
            problems = [
                line
                for line in result.stdout.splitlines()
                if line.strip() and "errors:" not in line and "BackoffRate" not in line
            ]
            assert not problems, f"{stack_name}/{lid}: {problems}"
            checked.append(f"{stack_name}/{lid}")
    # the Bedrock batch run, the SageMaker batch transform pipeline and the DocumentIndex ingestion are among them
    assert any("Batch" in c for c in checked) and any("Transform" in c for c in checked), checked
