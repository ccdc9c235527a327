"""Where the gateway's API is reachable from: the internet (REGIONAL) or only a VPC (PRIVATE)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2

from .._types import TypedOptions


class GatewayEndpointType(enum.Enum):
    """Endpoint type of the gateway's REST API."""

    REGIONAL = "regional"
    """Reachable over the internet (the default, ``GatewayEndpoint.regional()``); the function runs outside any VPC."""
    PRIVATE = "private"
    """Reachable only through an ``execute-api`` interface VPC endpoint (``GatewayEndpoint.private(vpc=...)``);
    the function runs in that VPC."""


@dataclass(frozen=True)
class GatewayEndpoint(TypedOptions):
    """Endpoint type of the gateway's REST API. Use the factory methods."""

    type: GatewayEndpointType
    """REGIONAL or PRIVATE."""
    vpc: ec2.IVpc | None = None
    """PRIVATE only: the VPC clients call from and the function runs in. Default: - none (REGIONAL)"""
    vpc_endpoint: ec2.IInterfaceVpcEndpoint | None = None
    """PRIVATE only: an existing ``execute-api`` interface endpoint. Default: - one is created"""
    vpc_subnets: ec2.SubnetSelection | None = None
    """PRIVATE only: subnets of the function and the created endpoints. Default: - the VPC's private subnets
    with egress, or its isolated subnets if it has none"""
    add_runtime_vpc_endpoints: bool = False
    """PRIVATE only: create the interface endpoints the function needs. Default: false here; ``private()``
    defaults it to true"""

    @staticmethod
    def regional() -> GatewayEndpoint:
        """A public REGIONAL endpoint (the default): reachable over the internet, protected by auth,
        WAF and throttling. The function runs outside any VPC."""
        return GatewayEndpoint(GatewayEndpointType.REGIONAL)

    @staticmethod
    def private(
        *,
        vpc: ec2.IVpc,
        vpc_endpoint: ec2.IInterfaceVpcEndpoint | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        add_runtime_vpc_endpoints: bool = True,
    ) -> GatewayEndpoint:
        """A PRIVATE endpoint: the API answers only requests that arrive through an ``execute-api``
        interface VPC endpoint of ``vpc`` (resource policy on ``aws:SourceVpce``; everything else is denied).

        The gateway function also runs in ``vpc`` (its own security group, egress on 443 only), so it
        needs a path to the AWS APIs it calls, either a NAT gateway or these interface endpoints:
        ``sagemaker.runtime`` (SageMaker aliases), ``bedrock-runtime`` (Bedrock aliases) and
        ``bedrock-agent-runtime`` (aliases with retrieval). Function logs, metrics (EMF) and Lambda's own
        traces are delivered by the Lambda service and need no endpoint.

        :param vpc: the VPC clients call from; it must have private or isolated subnets.
        :param vpc_endpoint: an existing ``execute-api`` interface endpoint to accept requests from.
            Default: - one is created in ``vpc_subnets`` with private DNS on and a security group that allows
            HTTPS from the VPC's CIDR. Private DNS makes every API Gateway hostname in this VPC resolve to
            the endpoint (public APIs then need a custom domain), and a VPC holds only one such endpoint
            with private DNS, so pass the existing one if the VPC already has it.
        :param vpc_subnets: subnets of the function and the created endpoints (every field of the selection is
            honoured). Default: - the VPC's private subnets with egress, or its isolated subnets if it has none
        :param add_runtime_vpc_endpoints: create the interface endpoints the function needs (only those
            the allowlist uses), each with private DNS and a security group that admits HTTPS from the
            function's security group only; the function's egress is then limited to them. Set it to
            false when the VPC already has these endpoints (private DNS allows one per service and VPC) or
            routes to the internet through NAT; the function may then send HTTPS anywhere. Default: true
        """
        return GatewayEndpoint(
            GatewayEndpointType.PRIVATE,
            vpc=vpc,
            vpc_endpoint=vpc_endpoint,
            vpc_subnets=vpc_subnets,
            add_runtime_vpc_endpoints=add_runtime_vpc_endpoints,
        )
