"""Upstream rules for LoraAdapterFleet (adapter inference components and LMI LoRA), checked at synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("LORA.<NAME>", ...)``.

The base model's container and hosting rules (LMI async mode, rollouts...) are the
``SAGEMAKER.*`` rules: the base is a :class:`SageMakerLlmEndpoint`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .._rules import RuleSet


@dataclass(frozen=True, kw_only=True)
class AdapterArtifact:
    """Where one adapter inference component's ``Specification.Container.ArtifactUrl`` points."""

    adapter: str
    """The adapter's name."""
    artifact: str
    """As given (relative to the adapter store, or a full ``s3://`` URL inside it)."""
    relative: str
    """The key relative to the store."""


#: Rules for LoraAdapterFleet (adapter inference components and LMI LoRA).
RULES: RuleSet[AdapterArtifact] = RuleSet("LORA")


@RULES.rule(
    "LORA.ADAPTER_ARTIFACT_TARBALL",
    "An adapter inference component's ArtifactUrl must point to a single gzip-compressed tar archive (.tar.gz)",
    source="botocore 1.44.5 data/sagemaker/2017-07-24/service-2.json: InferenceComponentContainerSpecification.ArtifactUrl "
    "('This path must point to a single gzip compressed tar archive (.tar.gz suffix).'); no AWS documentation found "
    "that an S3 folder works for adapter inference components",
)
def _adapter_artifact_tarball(a: AdapterArtifact) -> Iterable[str]:
    if not a.relative.endswith(".tar.gz"):
        yield (
            f"adapter {a.adapter!r}: artifact {a.artifact!r} must be one .tar.gz archive (adapter_config.json and "
            "adapter_model.safetensors at its root), e.g. 'support/adapter.tar.gz': SageMaker's ArtifactUrl takes a "
            "single gzip-compressed tar archive, not a folder"
        )
