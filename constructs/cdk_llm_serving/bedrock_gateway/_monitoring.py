"""The gateway's alarms: 5XX responses, function throttles, model throttles, model configuration errors and
time to first token. Created under ``scope`` (the gateway) with the construct IDs it has always used, through
the library's one alarm helper (``threshold_alarm``/``notify``: ALARM and OK notifications)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from .._alarms import notify, threshold_alarm
from .alarms import GatewayAlarmOptions
from .aliases import BedrockModelAlias, ModelAlias


def across_aliases(
    models: Sequence[ModelAlias], metric: Callable[[str], cloudwatch.Metric], reducer: str, label: str
) -> cloudwatch.MathExpression:
    """``reducer`` (SUM, MAX) of one per-alias metric over the aliases, for a single alarm.

    A CloudWatch alarm takes at most 10 metrics, so only the first 10 aliases are covered.
    """
    usable = {f"m{i}": m.alias for i, m in enumerate(models[:10])}
    expression = next(iter(usable)) if len(usable) == 1 else f"{reducer}([{','.join(usable)}])"
    return cloudwatch.MathExpression(
        expression=expression,
        using_metrics={k: metric(a) for k, a in usable.items()},
        label=label,
        period=cdk.Duration.minutes(5),
    )


def gateway_alarms(
    scope: Construct,
    *,
    models: Sequence[ModelAlias],
    function: lambda_.IFunction,
    server_errors: cloudwatch.Metric,
    model_throttles: Callable[[str], cloudwatch.Metric],
    model_config_errors: Callable[[str], cloudwatch.Metric],
    time_to_first_token: Callable[[str], cloudwatch.Metric],
    thresholds: GatewayAlarmOptions,
    topic: sns.ITopic | None,
) -> list[cloudwatch.Alarm]:
    """The alarms, in a fixed order (their construct IDs are part of the template), each notifying ``topic``
    on ALARM and OK, at the ``thresholds``. The count alarms fire when their metric reaches the threshold in one
    5-minute period."""
    throttle_label, throttle_description = _throttle_text(models)
    alarms = [
        threshold_alarm(
            scope,
            "ServerErrorsAlarm",
            server_errors,
            threshold=thresholds.server_errors,
            description="The Bedrock gateway returned 5XX responses",
            topic=topic,
        ),
        threshold_alarm(
            scope,
            "FunctionThrottlesAlarm",
            function.metric_throttles(statistic="Sum", period=cdk.Duration.minutes(5)),
            threshold=1,
            description="The gateway function was throttled (concurrency exhausted)",
            topic=topic,
        ),
        threshold_alarm(
            scope,
            "ModelThrottlesAlarm",
            across_aliases(models, model_throttles, "SUM", throttle_label),
            threshold=thresholds.model_throttles,
            description=throttle_description,
            topic=topic,
        ),
        threshold_alarm(
            scope,
            "ModelConfigErrorsAlarm",
            across_aliases(models, model_config_errors, "SUM", "Model configuration errors (all aliases)"),
            threshold=thresholds.model_config_errors,
            description="The gateway cannot use a model of its allowlist (invalid or unavailable model ID, access "
            "denied, Marketplace subscription or Anthropic use-case form missing, unknown endpoint): every request "
            "to that alias fails with 502 until the deployment is fixed",
            topic=topic,
        ),
    ]
    worst_ttft = across_aliases(models, time_to_first_token, "MAX", "p90 time to first token, worst alias (ms)")
    alarms.append(_ttft_alarm(scope, worst_ttft, thresholds.time_to_first_token_p90, topic))
    return alarms


def _throttle_text(models: Sequence[ModelAlias]) -> tuple[str, str]:
    """Label and description of the model-throttles alarm. The function emits the same per-alias metrics
    whatever the backend; Throttles counts 429s."""
    if all(isinstance(m, BedrockModelAlias) for m in models):
        return (
            "Bedrock throttles (all aliases)",
            "Bedrock throttled the gateway's model calls (tokens/requests per minute quota)",
        )
    return "Model throttles (all aliases)", (
        "Model backends throttled the gateway's calls (Bedrock tokens/requests per minute quota, "
        "SageMaker endpoint or inference component capacity)"
    )


def _ttft_alarm(
    scope: Construct, worst_alias: cloudwatch.MathExpression, threshold: cdk.Duration, topic: sns.ITopic | None
) -> cloudwatch.Alarm:
    """p90 time to first token of the worst alias above ``threshold`` in 2 of 3 periods."""
    alarm = worst_alias.create_alarm(
        scope,
        "TimeToFirstTokenAlarm",
        alarm_description="p90 time to first token is above the threshold for at least one model alias",
        threshold=threshold.to_milliseconds(),
        evaluation_periods=3,
        datapoints_to_alarm=2,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    notify(alarm, topic)
    return alarm
