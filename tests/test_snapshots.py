"""Snapshot of every synthesized template (asset hashes scrubbed)."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from harness import Synthesis, scrub
from test_compliance import EXPECTED_STACKS


@pytest.fixture
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


def _core_types(stack_name: str) -> set[str]:
    if stack_name in ("BatchStack", "BedrockBatchProfileStack"):
        return {"AWS::StepFunctions::StateMachine", "AWS::Lambda::Function", "AWS::Events::Rule", "AWS::IAM::Role"}
    if stack_name == "BatchTransformStack":
        return {"AWS::SageMaker::Endpoint", "AWS::StepFunctions::StateMachine", "AWS::Scheduler::Schedule"}
    if stack_name == "BatchAsyncStack":
        return {"AWS::SageMaker::Endpoint", "AWS::ApplicationAutoScaling::ScalableTarget"}
    if stack_name.endswith("PipelineStack"):
        return {"AWS::CodePipeline::Pipeline", "AWS::CodeBuild::Project"}
    if stack_name.endswith("CatalogStack"):
        return {"AWS::ServiceCatalog::Portfolio", "AWS::ServiceCatalog::CloudFormationProduct", "AWS::S3::Bucket"}
    if stack_name.startswith("cross-region-stack-"):  # CDK Pipelines' replication bucket for another Region
        return {"AWS::S3::Bucket", "AWS::KMS::Key"}
    stack_name = stack_name.rsplit("-", 1)[-1]  # a pipeline stage's stack: SamplePipelineStack-prod-ChatStack
    if stack_name == "InferentiaStack":
        return {"AWS::EKS::Cluster", "Custom::AWSCDK-EKS-HelmChart", "AWS::Lambda::Function"}
    if stack_name.startswith(("SageMaker", "Lora")):
        return {"AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"}
    if stack_name.startswith("KnowledgeBase"):
        return {"AWS::Bedrock::KnowledgeBase", "AWS::Bedrock::DataSource"}
    if stack_name == "RagStack":
        return {"AWS::SageMaker::Endpoint", "AWS::Bedrock::KnowledgeBase", "AWS::ApiGateway::RestApi"}
    return {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi"}


@pytest.mark.parametrize("stack_name", sorted(EXPECTED_STACKS))
def test_template_snapshot(synthesis: Synthesis, snapshot_json, stack_name: str) -> None:  # type: ignore[no-untyped-def]
    template = scrub(synthesis.templates[stack_name])
    # What the snapshot protects, stated: each family of stacks has its core resources.
    types = {r["Type"] for r in template["Resources"].values()}
    assert _core_types(stack_name) <= types
    # Asset hashes (Lambda code) are scrubbed, so the snapshot survives runtime-code and CDK changes.
    assert not any(len(w) == 64 for w in str(template).split(".zip"))
    if "AWS::Lambda::Function" in types:
        assert "<hash>" in str(template)
    assert template == snapshot_json
