"""Stand-in for the library-wide alarm helper ``cdk_llm_serving._alarms`` (convention 2).

The shared module is being moved out of ``sagemaker_endpoint/_alarms.py`` in another change; until it lands
the gateway uses these two functions, with the same names and signatures (``notify``, ``threshold_alarm``).
When ``cdk_llm_serving/_alarms.py`` exists, import both from there and delete this file.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from .._nag import acknowledge

_NO_TOPIC_REASON = "No alarm topic was passed ({prop}): the alarm is visible in CloudWatch but notifies no one"


def notify(alarm: cloudwatch.Alarm, topic: sns.ITopic | None, *, topic_prop: str = "alarm_topic") -> None:
    """Send ``alarm``'s ALARM and OK state changes to ``topic``; without one, acknowledge the NIST
    "alarm has an action" finding with a reason naming ``topic_prop``."""
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
    """An alarm at ``metric >= threshold`` over ``periods`` periods (missing data is not a breach), notified
    as :func:`notify` does."""
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
