"""Off-peak runs: an EventBridge Scheduler schedule that starts a state machine in an :class:`OffPeakWindow`."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .options import OffPeakWindow


def offpeak_schedule(
    scope: Construct, construct_id: str, *, window: OffPeakWindow, state_machine: sfn.IStateMachine, input_note: str
) -> scheduler.CfnSchedule:
    """A schedule that starts ``state_machine`` at ``window.start`` (in its time zone, within its flexible window),
    with a role that may start only that state machine, for this account's schedules only."""
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        description="EventBridge Scheduler: start the batch run state machine in its off-peak window",
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}
        ),
    )
    policy = iam.ManagedPolicy(
        scope,
        f"{construct_id}Policy",
        description="EventBridge Scheduler may start exactly the batch run state machine",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="StartRun", actions=["states:StartExecution"], resources=[state_machine.state_machine_arn]
            )
        ],
    )
    minutes = int(window.flexible_window.to_minutes(integral=False))
    schedule = scheduler.CfnSchedule(
        scope,
        construct_id,
        description=f"Off-peak batch run: {window.start} {window.time_zone} ({window.days}), for {window.duration.to_human_string()}",
        schedule_expression=window.scheduler_expression(),
        schedule_expression_timezone=window.time_zone,
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(
            mode="FLEXIBLE" if minutes else "OFF", maximum_window_in_minutes=minutes or None
        ),
        target=scheduler.CfnSchedule.TargetProperty(
            arn=state_machine.state_machine_arn,
            role_arn=role.role_arn,
            input=json.dumps({"source": input_note}),
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
            ),
        ),
    )
    schedule.node.add_dependency(policy)
    return schedule
