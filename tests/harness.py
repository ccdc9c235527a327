"""Synthesize every stack once per test session, with cdk-nag, and lint the result.

The session app holds the real stacks (``stacks.build_app`` with cdk.json's context) plus
the test-only variants. cdk-nag 3 runs as a validation plugin: when it finds something,
``app.synth()`` raises *after* writing the templates and ``validation-report.json``, so
tests read templates from the cloud assembly and the nag test reads the report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk

import stacks
import variants
import variants_batch
import variants_catalog
import variants_kb
import variants_lora
import variants_pipeline
import variants_sagemaker
from stacks.nag_gate import add_nag_gate

#: Test-only stacks, by name. Each module owns its own dict, so parallel work does not collide.
VARIANTS = {
    **variants.VARIANTS,
    **variants_batch.VARIANTS,
    **variants_sagemaker.VARIANTS,
    **variants_kb.VARIANTS,
    **variants_lora.VARIANTS,
    **variants_pipeline.VARIANTS,
    **variants_catalog.VARIANTS,
}

#: Every test-only stack: the variants and the stacks the sample pipeline adds (its stages', CDK's support stack).
TEST_STACKS = set(VARIANTS) | variants_pipeline.PIPELINE_STACKS

REPO = Path(__file__).resolve().parent.parent

_HASH = re.compile(r"[0-9a-f]{64}")


def cdk_json_context() -> dict[str, Any]:
    """The same context the CLI passes from cdk.json."""
    return json.loads((REPO / "cdk.json").read_text())["context"]


def feature_flags() -> dict[str, Any]:
    """cdk.json's feature flags (its ``@aws-cdk...`` context keys), without the stacks' settings."""
    return {k: v for k, v in cdk_json_context().items() if k.startswith("@aws-cdk")}


@dataclass
class Synthesis:
    outdir: Path
    templates: dict[str, dict[str, Any]]
    nag_violations: list[dict[str, Any]] = field(default_factory=list)
    synth_error: str | None = None
    stacks: dict[str, cdk.Stack] = field(default_factory=dict)


def synthesize(outdir: Path) -> Synthesis:
    app = cdk.App(outdir=str(outdir), context=cdk_json_context())
    add_nag_gate(app)
    stacks.build_app(app)
    built = {name: cls(app, name) for name, cls in VARIANTS.items()}
    built.update({c.node.id: c for c in app.node.children if isinstance(c, cdk.Stack)})
    built.update(  # the stacks of stages (the pipeline's environments), named as stack_artifacts names them
        {
            c.node.path.replace("/", "-"): c
            for stage in app.node.find_all()
            if isinstance(stage, cdk.Stage) and stage is not app
            for c in stage.node.children
            if isinstance(c, cdk.Stack)
        }
    )
    violations, error = synth_with_report(app, outdir)
    return Synthesis(
        outdir=outdir, templates=stack_templates(outdir), nag_violations=violations, synth_error=error, stacks=built
    )


def stack_artifacts(outdir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Each stack artifact of a cloud assembly (not nested stacks) with its assembly directory, by stack name; the
    stacks of a ``cdk.Stage`` (a nested cloud assembly, e.g. a pipeline environment) by their construct path with "-"
    (``SamplePipelineStack-prod-ChatStack``)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for name, art in manifest["artifacts"].items():
        if art["type"] == "aws:cloudformation:stack":
            key = art.get("displayName", name).replace("/", "-") if outdir.name.startswith("assembly-") else name
            out[key] = (outdir, art)
        elif art["type"] == "cdk:cloud-assembly":
            out.update(stack_artifacts(outdir / art["properties"]["directoryName"]))
    return out


def stack_templates(outdir: Path) -> dict[str, dict[str, Any]]:
    """The templates of :func:`stack_artifacts`, by the same names."""
    return {
        name: json.loads((where / art["properties"]["templateFile"]).read_text())
        for name, (where, art) in stack_artifacts(outdir).items()
    }


def synth_with_report(app: cdk.App, outdir: Path) -> tuple[list[dict[str, Any]], str | None]:
    """Synthesize ``app`` (writing to ``outdir``) and return its validation report's violations and the synth error.

    With findings, ``app.synth()`` raises after writing the assembly and ``validation-report.json``; each violation
    is ``{"rule", "path", "severity"}``.
    """
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings; the assembly is written nonetheless
        error = str(exc)
    violations: list[dict[str, Any]] = []
    report = outdir / "validation-report.json"
    if report.exists():
        for plugin in json.loads(report.read_text())["pluginReports"]:
            for v in plugin.get("violations", []):
                for c in v["violatingConstructs"]:
                    violations.append(
                        {"rule": v["ruleName"], "path": c["constructPath"], "severity": v.get("severity", "error")}
                    )
    return violations, error


#: A CDK Pipelines asset-publishing command's destination ID: ``<hash>:<account>-<region>-<8 hex>``, where the suffix
#: hashes the destination, whose object key is the asset hash (so it changes with runtime code, like the hash).
_PUBLISH_DESTINATION = re.compile(r"(<hash>:\d{12}-[a-z0-9-]+?-)[0-9a-f]{8}(?=\\?\")")


def scrub(value: Any) -> Any:
    """Replace asset hashes (they change with runtime code or the CDK version) by a placeholder."""
    if isinstance(value, dict):
        return {_HASH.sub("<hash>", k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _PUBLISH_DESTINATION.sub(r"\1<destination>", _HASH.sub("<hash>", value))
    return value


def cfn_text(value: Any, token: Callable[[Any], str] | None = None) -> str:
    """A CloudFormation string expression (plain or ``Fn::Join``) as text.

    Other intrinsics are rendered by ``token``; by default ``{LogicalId}`` for a ``Ref`` and
    sorted JSON for anything else.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(cfn_text(p, token) for p in parts)
    if token is not None:
        return token(value)
    if isinstance(value, dict) and "Ref" in value:
        return "{" + value["Ref"] + "}"
    return json.dumps(value, sort_keys=True)


def resources(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    """Resources of one type, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def one(template: dict[str, Any], rtype: str) -> dict[str, Any]:
    """The properties of the only resource of ``rtype`` (fails if there are none or several)."""
    found = resources(template, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {list(found)}"
    return next(iter(found.values()))["Properties"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _token(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return "{" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "{" + ".".join(value["Fn::GetAtt"]) + "}"
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        return "{DLC_ACCOUNT}"
    return json.dumps(value, sort_keys=True)


def text(value: Any) -> str:
    """A CloudFormation string as text: ``{Ref}``, ``{Id.Attr}`` and ``{DLC_ACCOUNT}`` (mapping lookup) placeholders."""
    return cfn_text(value, _token)


def flat_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One statement per (action, resource) pair.

    The recommended flag ``@aws-cdk/aws-iam:minimizePolicies`` merges statements that share
    everything but a resource or an action, so tests compare these pairs, not the rendering.
    """
    out = []
    for s in statements:
        for action in as_list(s.get("Action", [])):
            for resource in as_list(s.get("Resource", "*")):
                out.append({**s, "Action": action, "Resource": resource})
    return out


def lambda_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's Lambda functions, less the ones aws-cdk-lib adds for itself
    (``@aws-cdk/aws-ec2:restrictDefaultSecurityGroup``'s custom-resource provider)."""
    return {
        k: v
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if not k.startswith("CustomVpcRestrictDefaultSG")
    }


def expect_rule(rule_id: str, problems: Callable[[], Any] | list[str]) -> str:
    """Assert that an upstream rule (``cdk_llm_serving/<family>/rules.py``) fires; return its message.

    ``problems`` is either the list a rule set returned or a callable that must raise
    :class:`PropsValidationError` (building a construct with the faulty value). Every registered
    rule needs at least one ``expect_rule("<ID>", ...)`` in the tests (``tests/test_rules.py``).
    """
    from cdk_llm_serving import PropsValidationError

    if callable(problems):
        try:
            problems()
        except PropsValidationError as exc:
            found = exc.problems
        else:
            raise AssertionError(f"expected rule {rule_id} to reject the input, but it was accepted")
    else:
        found = problems
    hits = [p for p in found if p.startswith(f"[{rule_id}] ")]
    assert hits, f"rule {rule_id} did not fire; problems were: {found}"
    return hits[0]
