"""The SageMaker execution role: created (or imported) with one customer-managed policy of exact statements."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from .._nag import acknowledge, nag_resource


def execution_role(scope: Construct, role: iam.IRole | None) -> tuple[iam.IRole, iam.ManagedPolicy]:
    """``role`` (or a new one trusted by SageMaker) plus an attached, empty customer-managed policy.

    Statements go into the managed policy (no inline policies), so an imported role gets exactly
    the same permissions as a created one.
    """
    if role is None:
        stack = cdk.Stack.of(scope)
        role = iam.Role(
            scope,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="SageMaker execution role of an LLM endpoint (cdk-llm-serving)",
        )
    policy = iam.ManagedPolicy(
        scope,
        "ExecutionPolicy",
        roles=[role],
        description="Exactly what the SageMaker LLM endpoint needs (cdk-llm-serving)",
    )
    return role, policy


def _log_group_arn(scope: Construct, name: str) -> str:
    """``arn:…:logs:<Region>:<account>:log-group:<name>:*`` of ``scope``'s stack (tokens or, in a stack with an
    environment, literals)."""
    return cdk.Stack.of(scope).format_arn(
        service="logs", resource="log-group", resource_name=f"{name}:*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
    )


def hosting_statements(
    scope: Construct, *, image_repository_arn: str | None, log_group_names: Sequence[str], vpc: bool
) -> list[iam.PolicyStatement]:
    """Image pull, container logs, metrics and (in a VPC) network interfaces."""
    out: list[iam.PolicyStatement] = []
    if image_repository_arn is not None:
        out.append(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[image_repository_arn],
            )
        )
        # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
        out.append(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
    out.append(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[_log_group_arn(scope, name) for name in log_group_names],
        )
    )
    # PutMetricData has no resource-level permissions; the namespace condition narrows it.
    out.append(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}},
        )
    )
    if vpc:
        # EC2 network-interface actions SageMaker uses to attach to your subnets; the Describe* and
        # interface actions do not support resource-level scoping for this use, so AWS requires "*".
        out.append(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                resources=["*"],
            )
        )
    return out


def acknowledge_hosting_wildcards(
    policy: iam.ManagedPolicy, *, log_group_names: Sequence[str], vpc: bool, image_pull: bool
) -> None:
    """The wildcard resources :func:`hosting_statements` needs, acknowledged with AWS's reasons."""
    actions = (["ecr:GetAuthorizationToken"] if image_pull else []) + [
        "cloudwatch:PutMetricData (namespace-conditioned)"
    ]
    if vpc:
        actions.append("the VPC network-interface actions")
    acknowledge(
        policy,
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        f"{', '.join(actions)} have no resource-level permissions; AWS requires '*'",
    )
    for name in log_group_names:
        acknowledge(
            policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(policy, _log_group_arn(policy, name))}]",
            "Log streams are created per instance/copy with generated names; the grant is limited to this endpoint's log group",
        )
