"""The gateway function's least-privilege statements, generated from the model allowlist.

Pure builders: they return ``iam.PolicyStatement`` objects and create no constructs; ``scope`` is only
used to format ARNs in the stack's partition, Region and account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from .aliases import BedrockEmbeddingAlias, BedrockModelAlias, KnowledgeBaseRetrieval, SageMakerModelAlias
from .catalogue import catalogue
from .guardrails import GuardrailRef
from .rules import MarketplaceGrants

INVOKE_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
# InvokeEndpointWithResponseStream is authorized as sagemaker:InvokeEndpoint (API reference of the
# operation); the same-named IAM action exists too, so both are granted on the same resources.
SAGEMAKER_INVOKE_ACTIONS = ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]


def own_logs_and_traces(log_group_arn: str) -> list[iam.PolicyStatement]:
    """Write the function's own log group, and X-Ray traces."""
    return [
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group_arn],
        ),
        iam.PolicyStatement(
            sid="WriteTraces",
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            # X-Ray has no resource-level permissions: AWS requires "*" here.
            resources=["*"],
        ),
    ]


def routed_model_arn(foundation_model_id: str) -> str:
    """The foundation model in any Region (where a cross-Region profile may route a request)."""
    return f"arn:{cdk.Aws.PARTITION}:bedrock:*::foundation-model/{foundation_model_id}"


def bedrock_statements(
    scope: Construct,
    models: Sequence[BedrockModelAlias],
    guardrails: Mapping[str, GuardrailRef] | None = None,
    profiles: Mapping[str, str] | None = None,
) -> list[iam.PolicyStatement]:
    """InvokeModel* on exactly the allowlisted inference profiles and the foundation models behind them.

    Aliases with a guardrail get their own statements, allowed only with their guardrails
    (``bedrock:GuardrailIdentifier`` = ``<guardrail ARN>:<version>``), an explicit deny of those models without
    them, and ``bedrock:ApplyGuardrail`` on the guardrails.

    ``profiles`` (alias -> application inference profile ARN): such an alias may invoke its profile, and the
    models behind it as its source does (a system profile: the profile and the model in any Region, pinned by
    ``bedrock:InferenceProfileArn``; a foundation model: the model in the stack's Region).
    """
    guardrails = guardrails or {}
    profiles = profiles or {}
    open_aliases = [m for m in models if m.guardrail is None]
    guarded = [m for m in models if m.guardrail is not None]
    statements = _invoke_statements(scope, open_aliases, profiles, sid_suffix="", guardrail_values=[])
    if not guarded:
        return statements
    refs = [guardrails[n] for n in sorted({m.guardrail.name for m in guarded if m.guardrail is not None})]
    values = [r.condition_value for r in refs]
    guarded_statements = _invoke_statements(
        scope, guarded, profiles, sid_suffix="WithGuardrail", guardrail_values=values
    )
    statements.extend(guarded_statements)
    statements.append(
        iam.PolicyStatement(
            sid="DenyGuardedModelsWithoutGuardrail",
            effect=iam.Effect.DENY,
            actions=INVOKE_ACTIONS,
            resources=sorted({r for st in guarded_statements for r in st.resources}),
            # Bedrock User Guide 'Enforce the use of specific guardrails in model inference requests'
            # (guardrails-permissions-id, example 1): an explicit deny for any other GuardrailIdentifier (or none;
            # StringNotEquals matches when the key is absent), whatever else the role may be granted.
            conditions={"StringNotEquals": {GUARDRAIL_CONDITION_KEY: values}},
        )
    )
    statements.append(
        iam.PolicyStatement(
            sid="ApplyGuardrails",
            actions=["bedrock:ApplyGuardrail"],
            # Bedrock User Guide 'Set up permissions to use guardrails' (guardrails-permissions-invoke): inference
            # with a guardrail needs bedrock:ApplyGuardrail on arn:aws:bedrock:<region>:<account>:guardrail/<id>.
            resources=sorted({r.arn for r in refs}),
        )
    )
    return statements


#: Condition key of the guardrail a Bedrock inference request carries; its value is
#: ``arn:aws:bedrock:<region>:<account>:guardrail/<id>:<version>`` (Bedrock User Guide, guardrails-permissions-id;
#: Service Authorization Reference 'Actions, resources, and condition keys for Amazon Bedrock').
GUARDRAIL_CONDITION_KEY = "bedrock:GuardrailIdentifier"


def _invoke_statements(
    scope: Construct,
    models: Sequence[BedrockModelAlias],
    profiles: Mapping[str, str],
    *,
    sid_suffix: str,
    guardrail_values: list[str],
) -> list[iam.PolicyStatement]:
    stack = cdk.Stack.of(scope)
    app_profiles = sorted({profiles[m.alias] for m in models if m.alias in profiles})
    # Requests through an application profile copied from a system profile are routed like the system profile's:
    # the foundation model grant below accepts either profile ARN as bedrock:InferenceProfileArn.
    routed_app_profiles = sorted({profiles[m.alias] for m in models if m.alias in profiles and m.is_inference_profile})
    profile_arns = sorted(
        {
            stack.format_arn(service="bedrock", resource="inference-profile", resource_name=m.model_id)
            for m in models
            if m.is_inference_profile
        }
    )
    routed_models = sorted({m.foundation_model_id for m in models if m.is_inference_profile})
    direct_models = sorted({m.model_id for m in models if not m.is_inference_profile})
    guard = {GUARDRAIL_CONDITION_KEY: guardrail_values} if guardrail_values else {}
    statements: list[iam.PolicyStatement] = []
    if app_profiles:
        statements.append(
            iam.PolicyStatement(
                sid=f"InvokeApplicationInferenceProfiles{sid_suffix}",
                actions=INVOKE_ACTIONS,
                resources=app_profiles,
                conditions={"StringEquals": guard} if guard else None,
            )
        )
    if profile_arns:
        statements.append(
            iam.PolicyStatement(
                sid=f"InvokeInferenceProfiles{sid_suffix}",
                actions=INVOKE_ACTIONS,
                resources=profile_arns,
                conditions={"StringEquals": guard} if guard else None,
            )
        )
        statements.append(
            iam.PolicyStatement(
                sid=f"InvokeModelsThroughProfiles{sid_suffix}",
                actions=INVOKE_ACTIONS,
                # A cross-Region profile may route to any Region of its geography (global profiles to any
                # Region), chosen by AWS per request; AWS requires the foundation model in every one of
                # them, so the Region is a wildcard. The condition pins these grants to our profiles.
                resources=[routed_model_arn(fm) for fm in routed_models],
                conditions={
                    "StringEquals": {"bedrock:InferenceProfileArn": [*profile_arns, *routed_app_profiles], **guard}
                },
            )
        )
    if direct_models:
        statements.append(
            iam.PolicyStatement(
                sid=f"InvokeFoundationModels{sid_suffix}",
                actions=INVOKE_ACTIONS,
                resources=[
                    stack.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=fm)
                    for fm in direct_models
                ],
                conditions={"StringEquals": guard} if guard else None,
            )
        )
    return statements


def embedding_statements(scope: Construct, models: Sequence[BedrockEmbeddingAlias]) -> list[iam.PolicyStatement]:
    """bedrock:InvokeModel (the gateway never streams embeddings) on exactly the allowlisted embedding models in the
    stack's Region: ``arn:${Partition}:bedrock:${Region}::foundation-model/<model_id>``."""
    stack = cdk.Stack.of(scope)
    arns = sorted(
        {
            stack.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=m.model_id)
            for m in models
        }
    )
    if not arns:
        return []
    return [iam.PolicyStatement(sid="InvokeEmbeddingModels", actions=["bedrock:InvokeModel"], resources=arns)]


def marketplace_statements(
    models: Sequence[BedrockModelAlias], *, enabled: bool
) -> tuple[list[iam.PolicyStatement], MarketplaceGrants]:
    """AWS Marketplace permissions for the first call of the allowlist's third-party models in an account.

    Bedrock subscribes the account to a Marketplace model on its first call, with the caller's permissions.
    ``Subscribe`` is limited to the models' product IDs; Marketplace actions have no resource-level permissions.
    """
    cat = catalogue()
    pairs = tuple((m.alias, m.foundation_model_id) for m in models)
    third_party = sorted({fm for _, fm in pairs if cat.is_marketplace_model(fm)})
    products = sorted({p for fm in third_party if (p := cat.marketplace_product_id(fm)) is not None})
    statements: list[iam.PolicyStatement] = []
    if enabled and third_party:
        statements.append(
            iam.PolicyStatement(
                sid="ViewMarketplaceSubscriptions",
                actions=["aws-marketplace:ViewSubscriptions"],
                # AWS Marketplace supports no resource ARNs: AWS requires "*".
                resources=["*"],
            )
        )
        if products:
            statements.append(
                iam.PolicyStatement(
                    sid="SubscribeToAllowlistedModelsOnFirstUse",
                    actions=["aws-marketplace:Subscribe"],
                    resources=["*"],
                    conditions={"ForAnyValue:StringEquals": {"aws-marketplace:ProductId": products}},
                )
            )
    grants = MarketplaceGrants(
        foundation_models=pairs,
        enabled=enabled,
        view_subscriptions=enabled and bool(third_party),
        subscribe_product_ids=frozenset(products if enabled else ()),
    )
    return statements, grants


def sagemaker_arn(scope: Construct, resource: str, name: str, arn: str | None) -> str:
    """``arn`` if given, else the ARN of ``resource``/``name`` in this stack's account and Region.

    SageMaker ARNs hold the resource name in lower case (``CreateEndpoint`` returns
    ``...:endpoint/my-endpoint`` for ``My-Endpoint``), hence ``lower()``; validation already required
    an explicit ARN for token names, which cannot be lower-cased at synth time.
    """
    if arn is not None:
        return arn
    return cdk.Stack.of(scope).format_arn(service="sagemaker", resource=resource, resource_name=name.lower())


def sagemaker_statements(scope: Construct, models: Sequence[SageMakerModelAlias]) -> list[iam.PolicyStatement]:
    """InvokeEndpoint* on exactly the allowlisted endpoints and inference components."""
    endpoints = sorted({sagemaker_arn(scope, "endpoint", m.endpoint_name, m.endpoint_arn) for m in models})
    components = sorted(
        {
            sagemaker_arn(scope, "inference-component", m.inference_component_name, m.inference_component_arn)
            for m in models
            if m.inference_component_name is not None
        }
    )
    statements: list[iam.PolicyStatement] = []
    if endpoints:
        statements.append(
            iam.PolicyStatement(sid="InvokeSageMakerEndpoints", actions=SAGEMAKER_INVOKE_ACTIONS, resources=endpoints)
        )
    if components:
        # The Service Authorization Reference lists two resource types for sagemaker:InvokeEndpoint and
        # sagemaker:InvokeEndpointWithResponseStream: endpoint (required) and inference-component (optional).
        # A call with InferenceComponentName is therefore authorized against the endpoint ARN *and* the
        # component ARN (arn:${Partition}:sagemaker:${Region}:${Account}:inference-component/<name>), so
        # both are granted: the endpoint above, exactly these components here.
        statements.append(
            iam.PolicyStatement(
                sid="InvokeSageMakerInferenceComponents", actions=SAGEMAKER_INVOKE_ACTIONS, resources=components
            )
        )
    return statements


def retrieval_statements(scope: Construct, retrievals: Sequence[KnowledgeBaseRetrieval]) -> list[iam.PolicyStatement]:
    """bedrock:Retrieve (the IAM action of bedrock-agent-runtime Retrieve) on exactly the named knowledge bases."""
    stack = cdk.Stack.of(scope)
    arns = sorted(
        {
            r.knowledge_base_arn
            or stack.format_arn(service="bedrock", resource="knowledge-base", resource_name=r.knowledge_base_id)
            for r in retrievals
        }
    )
    if not arns:
        return []
    return [iam.PolicyStatement(sid="RetrieveFromKnowledgeBases", actions=["bedrock:Retrieve"], resources=arns)]


def network_interfaces_arn(scope: Construct) -> str:
    """``arn:…:ec2:<Region>:<account>:network-interface/*`` of ``scope``'s stack."""
    return cdk.Stack.of(scope).format_arn(service="ec2", resource="network-interface", resource_name="*")


def network_interface_statements(
    scope: Construct, subnet_ids: Sequence[str], security_group: ec2.ISecurityGroup
) -> list[iam.PolicyStatement]:
    """What Lambda needs to attach the function to the VPC (the permissions of the AWS managed policy
    AWSLambdaVPCAccessExecutionRole, minus logs, scoped as far as EC2 allows)."""
    stack = cdk.Stack.of(scope)
    enis = network_interfaces_arn(scope)
    subnets = [stack.format_arn(service="ec2", resource="subnet", resource_name=subnet_id) for subnet_id in subnet_ids]
    group = stack.format_arn(service="ec2", resource="security-group", resource_name=security_group.security_group_id)
    return [
        iam.PolicyStatement(
            sid="CreateVpcNetworkInterfaces",
            actions=["ec2:CreateNetworkInterface"],
            # Lambda creates the interfaces, so their IDs are unknown here; subnets and group are ours.
            resources=[enis, *subnets, group],
        ),
        iam.PolicyStatement(
            sid="ManageVpcNetworkInterfaces",
            actions=["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            resources=[enis],
        ),
        iam.PolicyStatement(
            sid="DescribeVpcNetworkInterfaces",
            actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            # EC2 Describe* actions support no resource-level permissions: AWS requires "*" here.
            resources=["*"],
        ),
    ]
