"""Intent guards: properties that used to be protected only by snapshots (which a developer would just
update), or by nothing at all. Each test names the fault it stops (the mutants of the December 2026
test-strength review, /work/shared/design/review-2026-12/J-test-strength.md).

- Stateful resources keep their logical IDs and their removal policies (C12, C16).
- ``Resource: "*"`` appears only on the actions an acknowledgment is about (C02, and the class behind it).
- cdk-nag acknowledgments are narrow and reasoned, and go through ``_nag.acknowledge`` only (C07).
- Security-relevant defaults, built without the props every stack passes explicitly (C10, C14, C17).
- Karpenter NodePool weights as rendered: spot before on-demand (C06, C15).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from constructs import IConstruct

from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    EksInferentiaCluster,
    GatewayAuthMode,
    Inf2NodePool,
    ModelSource,
    PropsValidationError,
    SageMakerLlmEndpoint,
)
from cdk_llm_serving._nag import acknowledge
from harness import REPO, Synthesis, flat_statements, resources, stack_artifacts
from test_inferentia import generated_manifests

# ---------------------------------------------------------------------------------------------------------
# stateful resources: logical IDs and removal policies

KEY, LOG_GROUP, USER_POOL, BUCKET = "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::Cognito::UserPool", "AWS::S3::Bucket"
VECTOR_BUCKET, VECTOR_INDEX = "AWS::S3Vectors::VectorBucket", "AWS::S3Vectors::Index"
KNOWLEDGE_BASE, ENDPOINT, CLUSTER = "AWS::Bedrock::KnowledgeBase", "AWS::SageMaker::Endpoint", "AWS::EKS::Cluster"
TABLE = "AWS::DynamoDB::Table"
STATEFUL_TYPES = (
    KEY,
    LOG_GROUP,
    USER_POOL,
    BUCKET,
    VECTOR_BUCKET,
    VECTOR_INDEX,
    KNOWLEDGE_BASE,
    ENDPOINT,
    CLUSTER,
    TABLE,
)

#: Kept when the stack is deleted or the resource replaced: keys (whatever they encrypted stays readable),
#: log groups (the audit trail outlives the stack: BedrockGatewayApi._log_group, DocumentIndex, batch and
#: flow logs), buckets (documents, weights, captures) and the gateway's user pool (its users and their MFA).
RETAIN = "Retain"
#: Deleted with the stack: the vector bucket, index and knowledge base hold only what ingestion derives from
#: the retained document bucket (the data source's DataDeletionPolicy is DELETE), and endpoints and the
#: cluster hold no data. Their logical IDs are pinned all the same: a new ID means a new endpoint or
#: cluster (downtime, and a failed deploy while the old one still holds the name).
DELETE = "Delete"

#: Every stateful resource of every synthesized stack: logical ID -> (type, DeletionPolicy and UpdateReplacePolicy).
STATEFUL: dict[str, dict[str, tuple[str, str]]] = {
    "ChatStack": {
        "AlarmTopicKey57B0D3A7": (KEY, RETAIN),
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        # API keys (hashes), team budgets and usage counters: replacing the table would forget every key.
        "GatewayGovernanceTable98479391": (TABLE, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayUserPoolAC9C51BE": (USER_POOL, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    # stacks/pipeline_stack.py (the sample pipeline of tests/variants_pipeline.py): CDK Pipelines' artifact buckets
    # (retained by aws-cdk-lib) and their keys (retained by PipelineStack, so retained artifacts stay readable).
    "SamplePipelineStack": {
        "PipelineArtifactsBucketAEA9A052": (BUCKET, RETAIN),
        "PipelineArtifactsBucketEncryptionKeyF5BF0670": (KEY, RETAIN),
    },
    "cross-region-stack-111111111111_us-west-2": {
        "CrossRegionCodePipelineReplicationBucketFC3227F2": (BUCKET, DELETE),  # named: see PipelineStack
        "CrossRegionCodePipelineReplicationBucketEncryptionKey70216490": (KEY, RETAIN),
    },
    # stacks/catalog_stack.py (tests/variants_catalog.py): the products' asset bucket, its access logs and the log
    # group of aws-s3-deployment's copy function.
    "SampleCatalogStack": {
        "AssetAccessLogsED5F5A38": (BUCKET, RETAIN),
        "AssetBucket1D025086": (BUCKET, DELETE),  # named (ProductStack needs it), rebuilt from the repository
        "CustomCDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756CLogGroup817B64E9": (LOG_GROUP, RETAIN),
    },
    "GatewayDevStack": {
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
    },
    "GatewayKeysStack": {
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayGovernanceTable98479391": (TABLE, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "GatewayExistingPoolStack": {
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "GatewayIamStack": {
        "AlarmKeyE05DE300": (KEY, RETAIN),
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "GatewayPrivateStack": {
        "FlowLogKeyA9968EC3": (KEY, RETAIN),
        "FlowLogGroup3E25AA51": (LOG_GROUP, RETAIN),
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "GatewaySurfaceStack": {
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayUserPoolAC9C51BE": (USER_POOL, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "GatewayGovernanceStack": {
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayUserPoolAC9C51BE": (USER_POOL, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "GatewaySageMakerStack": {
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "InferentiaStack": {
        "InferentiaLogKeyC8CB8486": (KEY, RETAIN),
        "InferentiaFlowLogGroup2CFFDC31": (LOG_GROUP, RETAIN),
        "InferentiaSecretsKey279A455A": (KEY, RETAIN),
        "InferentiaCluster7B7C798A": (CLUSTER, DELETE),
        "InferentiaClusterKubectlProviderHandlerLogGroup21A7B517": (LOG_GROUP, RETAIN),
        "InferentiaClusterKubectlProviderframeworkonEventLogGroup21216AB2": (LOG_GROUP, RETAIN),
        "InferentiaModelBucketKey7BB5797A": (KEY, RETAIN),
        "InferentiaAccessLogBucketD4029B56": (BUCKET, RETAIN),
        "InferentiaModelBucketC5D1CF09": (BUCKET, RETAIN),
    },
    "KnowledgeBaseExistingBucketStack": {
        "AlarmKeyE05DE300": (KEY, RETAIN),
        "IndexKeyA7F7F7D2": (KEY, RETAIN),
        "IndexVectorBucket2440ACCA": (VECTOR_BUCKET, DELETE),
        "IndexVectorIndexB3A2D865": (VECTOR_INDEX, DELETE),
        "IndexKnowledgeBase6E7A96EF": (KNOWLEDGE_BASE, DELETE),
        "IndexIngestionLogs45CAEDE7": (LOG_GROUP, RETAIN),
    },
    "KnowledgeBaseStack": {
        "IndexKeyA7F7F7D2": (KEY, RETAIN),
        "IndexAccessLogsBucket6C8CC22A": (BUCKET, RETAIN),
        "IndexDocumentBucket6501C2C4": (BUCKET, RETAIN),
        "IndexVectorBucket2440ACCA": (VECTOR_BUCKET, DELETE),
        "IndexVectorIndexB3A2D865": (VECTOR_INDEX, DELETE),
        "IndexKnowledgeBase6E7A96EF": (KNOWLEDGE_BASE, DELETE),
        "IndexIngestionLogs45CAEDE7": (LOG_GROUP, RETAIN),
    },
    "LoraComponentsStack": {
        "TopicKeyB2E0C9CB": (KEY, RETAIN),
        "FleetBaseEndpointD8BF69A2": (ENDPOINT, DELETE),
    },
    "LoraInStackStack": {
        "FleetBaseEndpointD8BF69A2": (ENDPOINT, DELETE),
    },
    "LoraStack": {
        "AlarmTopicKey57B0D3A7": (KEY, RETAIN),
        "FleetBaseEndpointD8BF69A2": (ENDPOINT, DELETE),
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "LoraStaticStack": {
        "FleetBaseEndpointD8BF69A2": (ENDPOINT, DELETE),
    },
    "RagStack": {
        "AlarmTopicKey57B0D3A7": (KEY, RETAIN),
        "FlowLogKeyA9968EC3": (KEY, RETAIN),
        "FlowLogGroup3E25AA51": (LOG_GROUP, RETAIN),
        "LlmKey7A1825F3": (KEY, RETAIN),
        "LlmArtifactBucketF4187A72": (BUCKET, RETAIN),
        "LlmEndpoint0550A83E": (ENDPOINT, DELETE),
        "DocumentsKeyFF02C3B3": (KEY, RETAIN),
        "DocumentsAccessLogsBucketDA10EE7C": (BUCKET, RETAIN),
        "DocumentsDocumentBucket897CB1F9": (BUCKET, RETAIN),
        "DocumentsVectorBucket9B83E6D0": (VECTOR_BUCKET, DELETE),
        "DocumentsVectorIndexD1E04ED4": (VECTOR_INDEX, DELETE),
        "DocumentsKnowledgeBase6B2C8C67": (KNOWLEDGE_BASE, DELETE),
        "DocumentsIngestionLogs8C1DE118": (LOG_GROUP, RETAIN),
        "GatewayLogsKeyF46DA240": (KEY, RETAIN),
        "GatewayFunctionLogsF769E71D": (LOG_GROUP, RETAIN),
        "GatewayAccessLogs87AA0EC3": (LOG_GROUP, RETAIN),
        "GatewayExecutionLogs3B1DE207": (LOG_GROUP, RETAIN),
        "GatewayWafLogsC7233BE1": (LOG_GROUP, RETAIN),
    },
    "SageMakerAsyncStack": {
        "LlmKey7A1825F3": (KEY, RETAIN),
        "LlmArtifactBucketF4187A72": (BUCKET, RETAIN),
        "LlmEndpoint0550A83E": (ENDPOINT, DELETE),
    },
    "SageMakerComponentStack": {
        "LlmEndpoint0550A83E": (ENDPOINT, DELETE),
    },
    "SageMakerRealTimeStack": {
        "FlowLogKeyA9968EC3": (KEY, RETAIN),
        "FlowLogGroup3E25AA51": (LOG_GROUP, RETAIN),
        "TopicKeyB2E0C9CB": (KEY, RETAIN),
        "LlmKey7A1825F3": (KEY, RETAIN),
        "LlmArtifactBucketF4187A72": (BUCKET, RETAIN),
        "LlmEndpoint0550A83E": (ENDPOINT, DELETE),
        "LlmBatchLogsAE598279": (LOG_GROUP, RETAIN),
    },
    "SageMakerServerlessStack": {
        "LlmEndpoint0550A83E": (ENDPOINT, DELETE),
    },
    "SageMakerTgiStack": {
        "LlmEndpoint0550A83E": (ENDPOINT, DELETE),
    },
    # stacks/batch_stack.py (Bedrock backend by default; SageMaker backends in tests/variants_batch.py)
    "BatchStack": {
        "AlarmTopicKey57B0D3A7": (KEY, RETAIN),
        "BatchKeyBB9A4B4D": (KEY, RETAIN),
        "BatchAccessLogsBucket1E685AF1": (BUCKET, RETAIN),
        "BatchInputBucketF21F11FA": (BUCKET, RETAIN),
        "BatchOutputBucket6059CD43": (BUCKET, RETAIN),
        "BatchPrepareLogs5A3BE3C3": (LOG_GROUP, RETAIN),
        "BatchCollectLogsE16BAE02": (LOG_GROUP, RETAIN),
        "BatchCallbackLogs2949F836": (LOG_GROUP, RETAIN),
        "BatchStateMachineLogsEAAD436C": (LOG_GROUP, RETAIN),
        "BatchTokenTableEFD56F6C": (TABLE, DELETE),  # task tokens of running jobs only
    },
    "BedrockBatchProfileStack": {
        "AlarmKeyE05DE300": (KEY, RETAIN),
        "BatchKeyBB9A4B4D": (KEY, RETAIN),
        "BatchAccessLogsBucket1E685AF1": (BUCKET, RETAIN),
        "BatchInputBucketF21F11FA": (BUCKET, RETAIN),
        "BatchOutputBucket6059CD43": (BUCKET, RETAIN),
        "BatchPrepareLogs5A3BE3C3": (LOG_GROUP, RETAIN),
        "BatchCollectLogsE16BAE02": (LOG_GROUP, RETAIN),
        "BatchCallbackLogs2949F836": (LOG_GROUP, RETAIN),
        "BatchStateMachineLogsEAAD436C": (LOG_GROUP, RETAIN),
        "BatchTokenTableEFD56F6C": (TABLE, DELETE),  # task tokens of running jobs only
    },
    "BatchTransformStack": {
        "AlarmTopicKey57B0D3A7": (KEY, RETAIN),
        "LlmKey7A1825F3": (KEY, RETAIN),
        "LlmArtifactBucketF4187A72": (BUCKET, RETAIN),
        "LlmEndpoint0550A83E": (ENDPOINT, DELETE),
        "LlmTransformLogsFE03B6E4": (LOG_GROUP, RETAIN),
    },
    "BatchAsyncStack": {
        "AlarmTopicKey57B0D3A7": (KEY, RETAIN),
        "LlmKey7A1825F3": (KEY, RETAIN),
        "LlmArtifactBucketF4187A72": (BUCKET, RETAIN),
        "LlmEndpoint0550A83E": (ENDPOINT, DELETE),
    },
}

# A pipeline stage's stacks keep their stack's logical IDs (staging's ChatStack uses IAM auth: no user pool).
STATEFUL["SamplePipelineStack-prod-ChatStack"] = STATEFUL["ChatStack"]
STATEFUL["SamplePipelineStack-staging-RagStack"] = STATEFUL["RagStack"]
STATEFUL["SamplePipelineStack-staging-ChatStack"] = {
    lid: v for lid, v in STATEFUL["ChatStack"].items() if lid != "GatewayUserPoolAC9C51BE"
}

_REPLACED = (
    "CloudFormation treats a changed logical ID as a new resource: it creates the new one and deletes the "
    "old one (or orphans it, if retained). For these types that means a new KMS key, an empty log group or "
    "bucket, a user pool whose users must sign up again, an empty vector index, a new endpoint or cluster. "
    "Keep the construct ID; if the change is intended, update STATEFUL here and document the migration."
)


def _stateful(template: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Stateful resources of a template: logical ID -> (type, removal policy)."""
    out = {}
    for lid, r in template["Resources"].items():
        if r["Type"] in STATEFUL_TYPES:
            policy = r.get("DeletionPolicy", DELETE)
            assert r.get("UpdateReplacePolicy", DELETE) == policy, (
                f"{lid}: DeletionPolicy {policy} but UpdateReplacePolicy {r.get('UpdateReplacePolicy', DELETE)}; "
                "a replacement must treat the data as a deletion does (use one RemovalPolicy)"
            )
            out[lid] = (r["Type"], policy)
    return out


def test_every_synthesized_stack_has_a_stateful_table(synthesis: Synthesis) -> None:
    assert set(STATEFUL) == set(synthesis.templates), "add the new stack's stateful resources to STATEFUL"


@pytest.mark.parametrize("stack_name", sorted(STATEFUL))
def test_stateful_logical_ids_are_stable(synthesis: Synthesis, stack_name: str) -> None:
    found = {lid: rtype for lid, (rtype, _) in _stateful(synthesis.templates[stack_name]).items()}
    pinned = {lid: rtype for lid, (rtype, _) in STATEFUL[stack_name].items()}
    gone = {lid: t for lid, t in pinned.items() if found.get(lid) != t}
    new = {lid: t for lid, t in found.items() if lid not in pinned}
    assert not gone, (
        f"{stack_name}: stateful resources no longer at their logical IDs: {gone}; new IDs: {new}. {_REPLACED}"
    )
    assert not new, (
        f"{stack_name}: new stateful resources {new}: pin their logical IDs in STATEFUL with the removal policy "
        "the construct intends"
    )


@pytest.mark.parametrize("stack_name", sorted(STATEFUL))
def test_stateful_removal_policies_follow_the_design(synthesis: Synthesis, stack_name: str) -> None:
    found = _stateful(synthesis.templates[stack_name])
    wrong = {
        lid: (f"expected {want}", f"got {found[lid][1]}")
        for lid, (_, want) in STATEFUL[stack_name].items()
        if lid in found and found[lid][1] != want
    }
    assert not wrong, (
        f"{stack_name}: removal policies changed {wrong}. Retain keeps keys, logs, buckets and the user pool "
        "when the stack is deleted or the resource replaced; Delete is for derived data and compute (see STATEFUL)"
    )


# ---------------------------------------------------------------------------------------------------------
# cdk-nag acknowledgments, as synthesized (construct metadata)

_ACK_KEY = "aws:cdk:acknowledged-rules"
_WILDCARD_ACK = "AwsSolutions::AwsSolutions-IAM5[Resource::*]"


@cache
def _metadata(outdir: str, stack_name: str) -> dict[str, list[dict[str, Any]]]:
    """Construct metadata of one stack artifact (and its nested stacks), by construct path."""
    where, artifact = stack_artifacts(Path(outdir))[stack_name]
    merged = dict(artifact.get("metadata", {}))
    if "additionalMetadataFile" in artifact:
        merged.update(json.loads((where / artifact["additionalMetadataFile"]).read_text()))
    return merged


def _acknowledgments(synthesis: Synthesis) -> Iterator[tuple[str, str, str, str]]:
    """(stack, construct path, finding id, reason) of every acknowledgment in the synthesized app."""
    for stack_name in synthesis.templates:
        for path, entries in _metadata(str(synthesis.outdir), stack_name).items():
            for entry in entries:
                if entry["type"] == _ACK_KEY:
                    for finding, reason in entry["data"].items():
                        yield stack_name, path, finding, reason


def _logical_ids_under(synthesis: Synthesis, stack_name: str, path: str) -> list[str]:
    """Logical IDs of the L1 resources at or below construct ``path`` (where cdk-nag applies the acknowledgment)."""
    out = []
    for p, entries in _metadata(str(synthesis.outdir), stack_name).items():
        if p == path or p.startswith(path + "/"):
            out.extend(e["data"] for e in entries if e["type"] == "aws:cdk:logicalId")
    return out


def test_acknowledge_rejects_vague_reasons_and_partial_ids() -> None:
    scope = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match="needs a specific reason"):
        acknowledge(scope, _WILDCARD_ACK, "ok")
    with pytest.raises(ValueError, match="needs a specific reason"):
        acknowledge(scope, _WILDCARD_ACK, "   too short, padded    " + " " * 40)
    with pytest.raises(ValueError, match="full cdk-nag id"):
        acknowledge(scope, "AwsSolutions-IAM5", "X-Ray has no resource-level permissions; AWS requires '*'")
    acknowledge(scope, _WILDCARD_ACK, "X-Ray has no resource-level permissions")  # 20+ characters: accepted
    assert scope.node.metadata[-1].data == {_WILDCARD_ACK: "X-Ray has no resource-level permissions"}


#: A specific cdk-nag rule of one of the two rule packs, optionally with its finding detail in brackets.
_FINDING = re.compile(r"^(AwsSolutions::AwsSolutions|NIST\.800\.53\.R5::NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[.+\])?$")
#: aws-cdk-lib acknowledges a few rules of its own cfn-lint-based plugin (stack AZs, ec2.FlowLog options).
_CDK_OWN = "CloudFormation-Validate::"


def test_every_acknowledgment_in_the_app_is_narrow_and_reasoned(synthesis: Synthesis) -> None:
    acks = [a for a in _acknowledgments(synthesis) if not a[2].startswith(_CDK_OWN)]
    assert len(acks) > 100  # the walk found the app's acknowledgments (several per construct)
    vague = [(p, f, r) for _, p, f, r in acks if len(r.strip()) < 20]
    assert not vague, f"acknowledgments without a specific reason (at least 20 characters): {vague}"
    broad = [(p, f) for _, p, f, _ in acks if not _FINDING.match(f)]
    assert not broad, f"acknowledgments that are not one full cdk-nag finding id: {broad}"


#: Ways to waive a finding without _nag.acknowledge (which enforces the reason and the full id).
_BYPASS = re.compile(r"Validations\.of\([^)]*\)\.acknowledge|NagSuppressions|acknowledge_warning\(")


def test_acknowledgments_only_go_through_nag_acknowledge() -> None:
    sources = [
        *(REPO / "constructs").rglob("*.py"),
        *(REPO / "stacks").rglob("*.py"),
        *(REPO / "tests").glob("variants*.py"),
    ]
    offenders = [str(p.relative_to(REPO)) for p in sources if p.name != "_nag.py" and _BYPASS.search(p.read_text())]
    assert not offenders, f"acknowledge cdk-nag findings with cdk_llm_serving._nag.acknowledge only: {offenders}"


# ---------------------------------------------------------------------------------------------------------
# "*" resources: only the actions an IAM5[Resource::*] acknowledgment is about

_LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
_XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
_XRAY_SAMPLING = {"xray:GetSamplingRules", "xray:GetSamplingTargets"}

#: (owning cdk_llm_serving construct, path of the acknowledged construct below it) -> the only actions that
#: may use Resource "*" there: actions without resource-level permissions (Service Authorization Reference).
WILDCARD_ACTIONS: dict[tuple[str, str], set[str]] = {
    # bedrock_gateway/construct.py: X-Ray; Lambda's VPC attachment Describe* (PRIVATE gateways only); AWS
    # Marketplace's first-use subscription (no resource types; Subscribe is conditioned on aws-marketplace:ProductId).
    ("BedrockGatewayApi", "Policy"): _XRAY
    | {
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "aws-marketplace:ViewSubscriptions",
        "aws-marketplace:Subscribe",
    },
    # sagemaker_endpoint/role.py: registry login, namespace-conditioned metrics, VPC interfaces (VPC only).
    ("SageMakerLlmEndpoint", "ExecutionPolicy"): {
        "ecr:GetAuthorizationToken",
        "cloudwatch:PutMetricData",
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    },
    # sagemaker_endpoint/batch.py: generated by Step Functions (logging, tracing) and by CDK's
    # SageMakerCreateTransformJob task (sagemaker:ListTags on "*", aws-stepfunctions-tasks create-transform-job).
    ("LlmBatchPipeline", "StateMachine/Role"): _LOG_DELIVERY | _XRAY | _XRAY_SAMPLING | {"sagemaker:ListTags"},
    # bedrock_batch/construct.py: X-Ray from the run functions; Service Quotas ListServiceQuotas (no resource types)
    # from the prepare function; vended-log delivery and X-Ray of the run state machine.
    ("BedrockBatchInference", "PreparePolicy"): _XRAY | {"servicequotas:ListServiceQuotas"},
    ("BedrockBatchInference", "CollectPolicy"): _XRAY,
    ("BedrockBatchInference", "CallbackPolicy"): _XRAY,
    ("BedrockBatchInference", "StateMachinePolicy"): _LOG_DELIVERY | _XRAY | _XRAY_SAMPLING,
    # eks_inferentia/construct.py: Karpenter's read-only discovery (upstream v1.14.1 controller policy).
    ("EksInferentiaCluster", "KarpenterControllerPolicy"): {
        "ec2:DescribeCapacityReservations",
        "ec2:DescribeImages",
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeInstanceTypeOfferings",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeLaunchTemplates",
        "ec2:DescribePlacementGroups",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSpotPriceHistory",
        "ec2:DescribeSubnets",
        "pricing:GetProducts",
        "iam:ListInstanceProfiles",
    },
    # stacks/pipeline_stack.py: what CDK Pipelines generates where the resource is not known to the pipeline stack:
    # the cross-Region replication keys (KMS, by alias in their support stacks), the self-mutation step's reads of
    # the bootstrap stacks and buckets of any Region, and the asset-publishing role's builds of its own projects.
    ("PipelineStack", "Pipeline"): {
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
        "cloudformation:DescribeStacks",
        "s3:ListBucket",
        "codebuild:BatchGetBuilds",
        "codebuild:StartBuild",
        "codebuild:StopBuild",
    },
    # stacks/catalog_stack.py: the Service Catalog launch role's actions without resource types (CloudFormation
    # template checks, CloudWatch Logs describe and log delivery for the WAF logs, kms:CreateKey) and the product
    # template read AWS documents on '*' with the servicecatalog:provisioning object-tag condition.
    ("CatalogStack", "LaunchPolicy"): {
        "cloudformation:GetTemplateSummary",
        "cloudformation:ValidateTemplate",
        "s3:GetObject",
        "logs:DescribeLogGroups",
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "kms:CreateKey",
    },
    # stacks/catalog_stack.py: the RAG product's launch actions without resource types (EC2 and Application Auto
    # Scaling Describe*, bedrock:CreateKnowledgeBase: the knowledge base does not exist yet).
    ("CatalogStack", "RagLaunchPolicy"): {
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeSubnets",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeFlowLogs",
        "ec2:DescribePrefixLists",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeNetworkInterfaces",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:DescribeScalingPolicies",
        "bedrock:CreateKnowledgeBase",
    },
    # knowledge_base/construct.py: vended-log delivery and X-Ray of the ingestion state machine.
    ("DocumentIndex", "IngestionPolicy"): _LOG_DELIVERY | _XRAY | _XRAY_SAMPLING,
}


def _find(stack: cdk.Stack, path: str) -> IConstruct:
    construct: IConstruct = stack
    for part in path.split("/"):
        construct = construct.node.find_child(part)
    return construct


def _owner(construct: IConstruct) -> tuple[str, str]:
    """The nearest enclosing construct of this library, and the path from it to ``construct``."""
    parts = [construct.node.id]
    scope = construct.node.scope
    while scope is not None and not type(scope).__module__.startswith(("cdk_llm_serving.", "stacks.")):
        parts.insert(0, scope.node.id)
        scope = scope.node.scope
    assert scope is not None, f"{construct.node.path} is not inside a cdk_llm_serving construct or stack"
    return type(scope).__name__, "/".join(parts)


def _wildcard_actions(template: dict[str, Any], logical_ids: list[str]) -> set[str]:
    """Actions on Resource "*" in the IAM policies among ``logical_ids`` (inline role policies included)."""
    out: set[str] = set()
    for lid in logical_ids:
        r = template["Resources"][lid]
        if r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            documents = [r["Properties"]["PolicyDocument"]]
        elif r["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in r["Properties"].get("Policies", [])]
        else:
            continue
        for doc in documents:
            out |= {s["Action"] for s in flat_statements(doc["Statement"]) if s["Resource"] == "*"}
    return out


def test_wildcard_resources_only_on_the_acknowledged_actions(synthesis: Synthesis) -> None:
    checked = set()
    for stack_name, path, finding, _ in _acknowledgments(synthesis):
        if finding != _WILDCARD_ACK:
            continue
        stack_path = path.removeprefix(f"/{synthesis.stacks[stack_name].node.path}/")
        construct = _find(synthesis.stacks[stack_name], stack_path)
        kind = _owner(construct)
        assert kind in WILDCARD_ACTIONS, (
            f"{path} acknowledges Resource::* but {kind} is not in WILDCARD_ACTIONS: list the actions that "
            "need '*' there (and why) so that no other action can slip onto '*' under the same acknowledgment"
        )
        template = synthesis.templates[stack_name]
        owner_stack = cdk.Stack.of(construct)
        if owner_stack is not synthesis.stacks[stack_name]:  # a Service Catalog ProductStack: its template is an asset
            template = json.loads((synthesis.outdir / f"{owner_stack.artifact_id}.product.template.json").read_text())
        actions = _wildcard_actions(template, _logical_ids_under(synthesis, stack_name, path))
        assert actions, (
            f"{path} acknowledges Resource::* but none of its statements uses '*'; remove the acknowledgment"
        )
        extra = actions - WILDCARD_ACTIONS[kind]
        assert not extra, (
            f"{path}: {sorted(extra)} on Resource '*' hide behind the {_WILDCARD_ACK} acknowledgment; "
            "scope them to their resources (cdk-nag does not report them)"
        )
        checked.add(kind)
    assert checked == set(WILDCARD_ACTIONS), f"kinds never seen in the app: {set(WILDCARD_ACTIONS) - checked}"


# ---------------------------------------------------------------------------------------------------------
# security-relevant defaults (every stack passes these props explicitly, so only a bare build sees them)

_MODEL = BedrockModelAlias(alias="chat", model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0")


@pytest.fixture(scope="module")
def default_gateway() -> tuple[BedrockGatewayApi, dict[str, Any]]:
    stack = cdk.Stack(cdk.App(), "Defaults")
    gateway = BedrockGatewayApi(stack, "Gw", models=[_MODEL])
    return gateway, Template.from_stack(stack).to_json()


def test_gateway_default_auth_is_cognito(default_gateway: tuple[BedrockGatewayApi, dict[str, Any]]) -> None:
    gateway, template = default_gateway
    assert gateway.auth_mode is GatewayAuthMode.COGNITO
    assert len(resources(template, USER_POOL)) == 1 and len(resources(template, "AWS::ApiGateway::Authorizer")) == 1
    (authorizer,) = resources(template, "AWS::ApiGateway::Authorizer")
    methods = {
        (m["Properties"]["HttpMethod"], m["Properties"]["ResourceId"]["Ref"]): m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
    }
    unauthenticated = [
        k for k, m in methods.items() if m["AuthorizationType"] != "COGNITO_USER_POOLS" and k[0] != "OPTIONS"
    ]
    # Only the mock health check is open (it returns a constant and never calls the function).
    assert len(unauthenticated) == 1 and unauthenticated[0][0] == "GET" and "health" in unauthenticated[0][1]
    assert methods[unauthenticated[0]]["Integration"]["Type"] == "MOCK"
    for key, method in methods.items():
        if key not in unauthenticated:
            assert method["AuthorizerId"] == {"Ref": authorizer}, key
    warnings = Annotations.from_stack(cdk.Stack.of(gateway)).find_warning(
        "*", Match.string_like_regexp("WITHOUT authentication")
    )
    assert warnings == []


def test_gateway_default_user_pool_requires_mfa_and_admin_sign_up(
    default_gateway: tuple[BedrockGatewayApi, dict[str, Any]],
) -> None:
    _, template = default_gateway
    (pool,) = (r["Properties"] for r in resources(template, USER_POOL).values())
    assert pool["MfaConfiguration"] == "ON" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}  # no self sign-up
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12


def test_gateway_waf_is_on_by_default(default_gateway: tuple[BedrockGatewayApi, dict[str, Any]]) -> None:
    gateway, template = default_gateway
    ((acl_id, acl),) = resources(template, "AWS::WAFv2::WebACL").items()
    (association,) = (r["Properties"] for r in resources(template, "AWS::WAFv2::WebACLAssociation").values())
    assert association["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    stage = next(iter(resources(template, "AWS::ApiGateway::Stage")))
    assert {"Ref": stage} in association["ResourceArn"]["Fn::Join"][1]
    rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["Limit"] == 1000
    assert {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    } <= set(rules)
    assert gateway.web_acl is not None


def test_gateway_logs_no_content_by_default(default_gateway: tuple[BedrockGatewayApi, dict[str, Any]]) -> None:
    _, template = default_gateway
    (fn,) = (r["Properties"] for r in resources(template, "AWS::Lambda::Function").values())
    assert json.loads(fn["Environment"]["Variables"]["GATEWAY_CONFIG"])["logContent"] is False
    (stage,) = (r["Properties"] for r in resources(template, "AWS::ApiGateway::Stage").values())
    assert all(not s.get("DataTraceEnabled", False) for s in stage["MethodSettings"])  # execution logs carry no bodies


def test_sagemaker_model_is_network_isolated_by_default_for_s3_weights() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    weights = s3.Bucket.from_bucket_name(stack, "W", "weights")
    s3_model = SageMakerLlmEndpoint(stack, "S3", model=ModelSource.s3_prefix(weights, "model/"))
    assert s3_model.model.enable_network_isolation is True
    # The Hub download needs the network, so that is the one source that defaults to no isolation.
    hub = SageMakerLlmEndpoint(stack, "Hub", model=ModelSource.hugging_face("Qwen/Qwen2.5-7B-Instruct"))
    assert hub.model.enable_network_isolation is False


# ---------------------------------------------------------------------------------------------------------
# Karpenter NodePool weights: spot first, on-demand as the fallback


def test_rendered_node_pool_weights_follow_the_props_with_spot_first(synthesis: Synthesis) -> None:
    pools = {
        d["metadata"]["name"]: d
        for d in generated_manifests(synthesis.templates["InferentiaStack"])
        if d["kind"] == "NodePool"
    }
    props = {p.name: p for p in synthesis.stacks["InferentiaStack"].inferentia.inf2_node_pools}
    assert set(props) < set(pools)  # plus the general-purpose pool
    for name, p in props.items():
        assert pools[name]["spec"]["weight"] == p.weight, name
        requirements = {r["key"]: r["values"] for r in pools[name]["spec"]["template"]["spec"]["requirements"]}
        assert requirements["karpenter.sh/capacity-type"] == [p.capacity_type], name
    spot = [p.weight for p in props.values() if p.capacity_type == "spot"]
    on_demand = [p.weight for p in props.values() if p.capacity_type == "on-demand"]
    assert spot and on_demand and min(spot) > max(on_demand)


def test_equal_spot_and_on_demand_weights_are_rejected() -> None:
    pools = (
        Inf2NodePool(name="spot", capacity_type="spot", instance_types=("inf2.xlarge",), neuron_limit=4, weight=50),
        Inf2NodePool(name="od", capacity_type="on-demand", instance_types=("inf2.xlarge",), neuron_limit=2, weight=50),
    )
    with pytest.raises(PropsValidationError) as info:
        EksInferentiaCluster(cdk.Stack(cdk.App(), "S"), "C", inf2_node_pools=pools)
    assert (
        "spot NodePools must have higher weights than on-demand ones (on-demand is the fallback)" in info.value.problems
    )
