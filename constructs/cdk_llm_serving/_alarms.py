"""The one way this library creates alarms and routes their notifications (every construct family uses it).

A construct that creates alarms takes ``alarm_topic: sns.ITopic | None = None``; its alarms notify that topic
on ALARM **and** OK (so on-call also hears when a problem is over). Without a topic the alarms still show in
CloudWatch and can roll deployments back, and the NIST "alarm has an action" finding is acknowledged on each
alarm with a reason that names the prop that would add one.
"""

from __future__ import annotations

from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._nag import acknowledge

_NO_TOPIC_REASON = (
    "No alarm topic was passed ({prop}): the alarm is visible in CloudWatch (and still acts where it is wired, "
    "e.g. a deployment rollback) but notifies no one"
)


def notify(alarm: cloudwatch.Alarm, topic: sns.ITopic | None, *, topic_prop: str = "alarm_topic") -> None:
    """Send ``alarm``'s ALARM and OK state changes to ``topic``; without one, acknowledge the NIST finding naming ``topic_prop``."""
    if topic is not None:
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
        alarm.add_ok_action(cw_actions.SnsAction(topic))
    else:
        acknowledge(
            alarm, "NIST.800.53.R5::NIST.800.53.R5-CloudWatchAlarmAction", _NO_TOPIC_REASON.format(prop=topic_prop)
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
    topic_prop: str = "alarm_topic",
) -> cloudwatch.Alarm:
    """An alarm at ``metric >= threshold`` over ``periods`` periods (missing data is not a breach), notified as :func:`notify` does."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=periods,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    notify(alarm, topic, topic_prop=topic_prop)
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

    Target tracking cannot leave zero (it divides by the copy count), hence this alarm. Its action is the
    scaling step, not a notification.
    """
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        metric=signal,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    alarm.add_alarm_action(cw_actions.ApplicationScalingAction(action))
    return alarm
