"""Every synthesized stack: cdk-nag (AwsSolutions + NIST 800-53 R5) and cfn-lint are clean."""

from __future__ import annotations

import json

import cfnlint.api
import pytest

from harness import REPO, TEST_STACKS, Synthesis

#: The deployable stacks (``stacks.build_app``) plus every test-only variant and the sample pipeline's stage stacks.
APP_STACKS = {"ChatStack", "InferentiaStack", "RagStack", "LoraStack", "BatchStack"}
EXPECTED_STACKS = APP_STACKS | TEST_STACKS


def test_all_stacks_synthesized(synthesis: Synthesis) -> None:
    assert EXPECTED_STACKS <= set(synthesis.templates)


#: The warnings the library emits on purpose, per stack. With the recommended flag
#: ``@aws-cdk/core:annotationsInValidationReport`` they appear in the validation report as
#: severity "warning"; any other warning is a finding.
EXPECTED_WARNINGS = {
    ("GatewayDevStack/Gateway", "Annotation::cdk-llm-serving:gateway-unauthenticated"),
    ("SageMakerServerlessStack/Llm", "Annotation::cdk-llm-serving:serverless-small-models-only"),
    ("SageMakerAsyncStack/Llm", "Annotation::cdk-llm-serving:hf-token-in-model-environment"),
}


def test_no_unacknowledged_nag_findings(synthesis: Synthesis) -> None:
    errors = [v for v in synthesis.nag_violations if v["severity"] != "warning"]
    findings = "\n".join(f"{v['rule']} at {v['path']}" for v in errors)
    assert not errors, f"unacknowledged cdk-nag findings:\n{findings}"
    assert synthesis.synth_error is None


def test_only_the_intended_warnings(synthesis: Synthesis) -> None:
    warnings = {(v["path"], v["rule"]) for v in synthesis.nag_violations if v["severity"] == "warning"}
    assert warnings == EXPECTED_WARNINGS


def _cfn_lint_config() -> cfnlint.api.ManualArgs:
    """Ignored rules live in .cfnlintrc, each with its reason."""
    import yaml

    cfg = yaml.safe_load((REPO / ".cfnlintrc").read_text())
    return cfnlint.api.ManualArgs(ignore_checks=cfg["ignore_checks"], regions=cfg["regions"])


@pytest.mark.parametrize("stack_name", sorted(EXPECTED_STACKS))
def test_cfn_lint_clean(synthesis: Synthesis, stack_name: str) -> None:
    template = json.dumps(synthesis.templates[stack_name])
    matches = cfnlint.api.lint(template, config=_cfn_lint_config())
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert not errors, "\n".join(str(m) for m in errors)
