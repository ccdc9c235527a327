"""Snapshot of every synthesized template (asset hashes scrubbed)."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from harness import Synthesis, scrub
from test_compliance import EXPECTED_STACKS


@pytest.fixture
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack_name", sorted(EXPECTED_STACKS))
def test_template_snapshot(synthesis: Synthesis, snapshot_json, stack_name: str) -> None:  # type: ignore[no-untyped-def]
    template = scrub(synthesis.templates[stack_name])
    # What the snapshot protects, stated: the gateway stacks have the gateway's function and API,
    # InferentiaStack has the EKS cluster with its Helm releases.
    types = {r["Type"] for r in template["Resources"].values()}
    if stack_name == "InferentiaStack":
        assert {"AWS::EKS::Cluster", "Custom::AWSCDK-EKS-HelmChart", "AWS::Lambda::Function"} <= types
    else:
        assert {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi"} <= types
    assert "<hash>" in str(template) and not any(len(w) == 64 for w in str(template).split(".zip"))
    assert template == snapshot_json
