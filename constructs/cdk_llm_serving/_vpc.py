"""The one way this library turns a ``vpc_subnets`` prop into subnets.

In Python ``vpc.select_subnets`` takes the selection's fields as keyword arguments; copying them
by hand once dropped ``subnet_filters`` (a one-subnet selection synthesized two subnets). Every
construct goes through :func:`select_subnets`, which passes all six fields.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_ec2 as ec2

#: Every field of ``ec2.SubnetSelection`` (aws-cdk-lib 2.275 ``SubnetSelection`` interface).
SUBNET_SELECTION_FIELDS = (
    "availability_zones",
    "one_per_az",
    "subnet_filters",
    "subnet_group_name",
    "subnet_type",
    "subnets",
)


def selection_kwargs(selection: ec2.SubnetSelection) -> dict[str, Any]:
    """The selection's set fields, as ``vpc.select_subnets(**kwargs)`` takes them."""
    return {f: getattr(selection, f) for f in SUBNET_SELECTION_FIELDS if getattr(selection, f) is not None}


def private_selection(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    """The default for workloads that must not be reachable: private subnets with egress, else isolated ones."""
    kind = ec2.SubnetType.PRIVATE_WITH_EGRESS if vpc.private_subnets else ec2.SubnetType.PRIVATE_ISOLATED
    return ec2.SubnetSelection(subnet_type=kind)


def select_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None = None) -> ec2.SelectedSubnets:
    """``vpc.select_subnets`` for ``selection`` (default: :func:`private_selection`), honouring every field."""
    return vpc.select_subnets(**selection_kwargs(selection or private_selection(vpc)))
