"""Networking of a PRIVATE gateway: endpoint checks, the ``execute-api`` VPC endpoint, the API's resource
policy and the function's own interface endpoints. Builders create their resources under ``scope`` (the
gateway) with the construct IDs the gateway has always used."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from .._nag import acknowledge
from .._vpc import private_selection, select_subnets
from .aliases import BedrockEmbeddingAlias, BedrockModelAlias, ModelAlias, SageMakerModelAlias, retrievals
from .auth import GatewayAuthMode
from .endpoint import GatewayEndpoint, GatewayEndpointType


def _image_host_port(host: str) -> int:
    """The TCP port the runtime fetches an ``image_url_hosts`` entry on (HTTPS 443 unless ``http://`` or a port)."""
    scheme, _, rest = host.rpartition("://")
    _, colon, port = rest.partition(":")
    return int(port) if colon else 80 if scheme == "http" else 443


def image_host_problems(endpoint: GatewayEndpoint, hosts: Sequence[str]) -> list[str]:
    """``image_url_hosts`` a PRIVATE gateway's function cannot reach: its security group allows HTTPS (443) egress
    only, and only to the VPC's CIDR when the gateway creates the runtime VPC endpoints."""
    if endpoint.type is not GatewayEndpointType.PRIVATE or not hosts:
        return []
    if endpoint.add_runtime_vpc_endpoints:
        return [
            f"image_url_hosts {list(hosts)!r} are unreachable from a PRIVATE gateway with add_runtime_vpc_endpoints=True:"
            " the function's egress is limited to the VPC endpoints it creates; leave image_url_hosts out (clients"
            " send data: URLs), or give the VPC a NAT route and pass add_runtime_vpc_endpoints=False"
        ]
    return [
        f"image_url_hosts: {h!r} uses port {_image_host_port(h)}, but a PRIVATE gateway's function may only send"
        " HTTPS on port 443; use an https host on port 443"
        for h in hosts
        if _image_host_port(h) != 443
    ]


def network_problems(endpoint: GatewayEndpoint) -> tuple[list[str], ec2.SubnetSelection | None]:
    """Problems of ``endpoint`` and, for PRIVATE, the subnet selection of the function and the VPC endpoints
    (``vpc_subnets``, default :func:`cdk_llm_serving._vpc.private_selection`)."""
    if endpoint.type is GatewayEndpointType.REGIONAL:
        return [], None
    vpc = endpoint.vpc
    if vpc is None:
        return ["endpoint=GatewayEndpoint.private(...) needs a vpc"], None
    selection = endpoint.vpc_subnets
    if selection is None and not vpc.private_subnets and not vpc.isolated_subnets:
        return [
            "endpoint=GatewayEndpoint.private(...): the VPC has no private or isolated subnets for the function"
            " and the VPC endpoints; add some or pass vpc_subnets="
        ], None
    if selection is None:
        selection = private_selection(vpc)
    try:
        selected = select_subnets(vpc, selection)
    except Exception as exc:  # jsii raises for selections that match nothing
        return [f"endpoint=GatewayEndpoint.private(...): vpc_subnets select nothing in the VPC ({exc})"], None
    if not selected.subnets:
        return ["endpoint=GatewayEndpoint.private(...): vpc_subnets select no subnet of the VPC"], None
    try:
        _ = vpc.vpc_cidr_block  # security group rules of the VPC endpoints and the function use it
    except Exception:
        return [
            "endpoint=GatewayEndpoint.private(...): the VPC's CIDR block is unknown; import it with"
            " ec2.Vpc.from_vpc_attributes(..., vpc_cidr_block=...)"
        ], None
    if selected.has_public:
        return [
            "endpoint=GatewayEndpoint.private(...): vpc_subnets must be private or isolated (a Lambda function in a"
            " public subnet has no internet access and the API must not be reachable from outside the VPC)"
        ], None
    return [], selection


def execute_api_endpoint(
    scope: Construct, vpc: ec2.IVpc, subnets: ec2.SubnetSelection | None
) -> ec2.InterfaceVpcEndpoint:
    """An ``execute-api`` interface endpoint with private DNS, reachable over HTTPS from the VPC's CIDR."""
    security_group = ec2.SecurityGroup(
        scope,
        "ExecuteApiEndpointSecurityGroup",
        vpc=vpc,
        description="execute-api VPC endpoint of the Bedrock gateway: HTTPS from the VPC",
        allow_all_outbound=False,
    )
    cidr = vpc.vpc_cidr_block
    security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from clients in the VPC")
    if cdk.Token.is_unresolved(cidr):
        for finding in (
            "AwsSolutions::AwsSolutions-EC23",
            "NIST.800.53.R5::NIST.800.53.R5-EC2RestrictedCommonPorts",
            "NIST.800.53.R5::NIST.800.53.R5-EC2RestrictedSSH",
        ):
            acknowledge(
                security_group,
                finding,
                "The only ingress rule is HTTPS (443) from the VPC's own CIDR block, a CloudFormation attribute "
                "cdk-nag cannot evaluate; never 0.0.0.0/0, never SSH or another common port",
            )
    return ec2.InterfaceVpcEndpoint(
        scope,
        "ExecuteApiEndpoint",
        vpc=vpc,
        service=ec2.InterfaceVpcEndpointAwsService.APIGATEWAY,
        subnets=subnets,
        private_dns_enabled=True,
        open=False,
        security_groups=[security_group],
    )


def private_api_policy(
    vpc_endpoint: ec2.IInterfaceVpcEndpoint, auth_mode: GatewayAuthMode, stage_name: str
) -> iam.PolicyDocument:
    """Resource policy of a PRIVATE API: invoke only through ``vpc_endpoint``, deny everything else.

    With IAM auth the Allow names this account (not ``*``): same-account callers then also need an
    identity policy (``grant_invoke``), as with the REGIONAL API. Cognito and development modes need
    ``*`` because API Gateway evaluates the policy for callers that have no AWS identity.
    """
    through_endpoint = {"StringEquals": {"aws:SourceVpce": vpc_endpoint.vpc_endpoint_id}}
    callers: iam.IPrincipal = iam.AccountRootPrincipal() if auth_mode is GatewayAuthMode.IAM else iam.AnyPrincipal()
    statements = [
        iam.PolicyStatement(
            sid="InvokeThroughVpcEndpoint",
            principals=[callers],
            actions=["execute-api:Invoke"],
            resources=["execute-api:/*"],
            conditions=through_endpoint,
        )
    ]
    if auth_mode is GatewayAuthMode.IAM:
        statements.append(
            iam.PolicyStatement(
                sid="HealthCheckThroughVpcEndpoint",
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=[f"execute-api:/{stage_name}/GET/health"],
                conditions=through_endpoint,
            )
        )
    statements.append(
        iam.PolicyStatement(
            sid="DenyOutsideVpcEndpoint",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["execute-api:Invoke"],
            resources=["execute-api:/*"],
            conditions={"StringNotEquals": {"aws:SourceVpce": vpc_endpoint.vpc_endpoint_id}},
        )
    )
    return iam.PolicyDocument(statements=statements)


def _runtime_services(models: Sequence[ModelAlias]) -> list[tuple[str, str, ec2.InterfaceVpcEndpointAwsService]]:
    """(service, construct ID, endpoint service) of the AWS APIs the allowlist makes the function call."""
    services: list[tuple[str, str, ec2.InterfaceVpcEndpointAwsService]] = []
    if any(isinstance(m, (BedrockModelAlias, BedrockEmbeddingAlias)) for m in models):
        services.append(
            ("bedrock-runtime", "BedrockRuntimeEndpoint", ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME)
        )
    if any(isinstance(m, SageMakerModelAlias) for m in models):
        services.append(
            ("sagemaker.runtime", "SageMakerRuntimeEndpoint", ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME)
        )
    if retrievals(models):
        services.append(
            (
                "bedrock-agent-runtime",
                "BedrockAgentRuntimeEndpoint",
                ec2.InterfaceVpcEndpointAwsService.BEDROCK_AGENT_RUNTIME,
            )
        )
    return services


def runtime_vpc_endpoints(
    scope: Construct,
    *,
    vpc: ec2.IVpc,
    function_security_group: ec2.SecurityGroup,
    subnets: ec2.SubnetSelection | None,
    models: Sequence[ModelAlias],
    create: bool,
) -> dict[str, ec2.InterfaceVpcEndpoint]:
    """Function egress: to interface endpoints created here for the services the allowlist uses, or
    (``create=False``, i.e. ``add_runtime_vpc_endpoints=False``) HTTPS anywhere the VPC routes (NAT or
    existing endpoints). Returns the created endpoints by service."""
    fn_sg = function_security_group
    if not create:
        fn_sg.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs through the VPC's NAT or endpoints"
        )
        return {}
    services = _runtime_services(models)
    endpoints_sg = ec2.SecurityGroup(
        scope,
        "RuntimeEndpointsSecurityGroup",
        vpc=vpc,
        description="VPC endpoints of the Bedrock gateway function: HTTPS from the function only",
        allow_all_outbound=False,
    )
    endpoints_sg.add_ingress_rule(fn_sg, ec2.Port.tcp(443), "HTTPS from the gateway function")
    # An inline (CIDR) rule: a group-to-group egress rule is a separate resource, which would leave
    # CloudFormation's default allow-all egress rule in place on the function's group.
    fn_sg.add_egress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS to the gateway's VPC endpoints")
    return {
        service: ec2.InterfaceVpcEndpoint(
            scope,
            construct_id,
            vpc=vpc,
            service=aws_service,
            subnets=subnets,
            private_dns_enabled=True,
            open=False,
            security_groups=[endpoints_sg],
        )
        for service, construct_id, aws_service in services
    }
