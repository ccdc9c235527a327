"""Alarm helpers shared by SageMakerLlmEndpoint and LoraAdapterFleet (one implementation, identical alarms)."""

from __future__ import annotations

from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from .._nag import acknowledge

_NO_TOPIC_REASON = (
    "No alarm topic was passed ({option}): the alarm is visible in CloudWatch and can "
    "roll back deployments, but notifies no one"
)


def threshold_alarm(
    scope: Construct,
    construct_id: str,
    metric: cloudwatch.IMetric,
    *,
    threshold: float,
    description: str,
    topic: sns.ITopic | None,
    periods: int = 1,
    topic_option: str = "AlarmOptions.topic",
) -> cloudwatch.Alarm:
    """An alarm at ``metric >= threshold`` (missing data is fine), notifying ``topic`` on ALARM and OK.

    Without a topic the NIST "alarm has an action" finding is acknowledged on the alarm, naming the
    option (``topic_option``) that would add one.
    """
    alarm = metric.create_alarm(
        scope, construct_id, threshold=threshold, evaluation_periods=periods,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    if topic is not None:
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
        alarm.add_ok_action(cw_actions.SnsAction(topic))
    else:
        acknowledge(alarm, "NIST.800.53.R5::NIST.800.53.R5-CloudWatchAlarmAction",
                    _NO_TOPIC_REASON.format(option=topic_option))
    return alarm


def wake_up_alarm(
    scope: Construct,
    construct_id: str,
    signal: cloudwatch.IMetric,
    action: appscaling.StepScalingAction,
    *,
    description: str,
) -> cloudwatch.Alarm:
    """Scale from zero: as soon as ``signal`` reaches 1 (requests found no capacity), run the +1 step ``action``.

    Target tracking cannot leave zero (it divides by the copy count), hence this alarm.
    """
    alarm = signal.create_alarm(
        scope, construct_id, threshold=1, evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING, alarm_description=description,
    )
    alarm.add_alarm_action(cw_actions.ApplicationScalingAction(action))
    return alarm
