"""The README's reference sections agree with what the code synthesizes and with the AWS API models.

* "Clean up": every resource with DeletionPolicy Retain in every app stack is named in its stack's row.
* "Idle cost per stack": the counts (KMS keys, alarms and the metrics they watch, WAF rules) and the
  always-on instance arithmetic come from the synthesized templates and the repository's price tables.
* "Supported Regions": the embedded table is what scripts/region_matrix.py prints.
* Every ``aws <service> <operation> --flag`` command in the README names an operation and parameters that
  exist in botocore's service model (the CLI is generated from it), e.g. ``admin-create-user
  --desired-delivery-mediums`` / ``--message-action``, ``admin-set-user-password --permanent``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from harness import REPO, TEST_STACKS, Synthesis, resources

README = (REPO / "README.md").read_text()
APP_STACKS = ("BatchStack", "ChatStack", "InferentiaStack", "LoraStack", "RagStack")
HOURS = 730


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def row(table_section: str, stack: str) -> str:
    (line,) = [
        ln for ln in table_section.splitlines() if ln.startswith(f"| {stack} |") or ln.startswith(f"| **{stack}** |")
    ]
    return line


def test_the_app_stacks_are_the_ones_documented(synthesis: Synthesis) -> None:
    assert sorted(set(synthesis.templates) - TEST_STACKS) == sorted(APP_STACKS)


@pytest.mark.parametrize("stack", APP_STACKS)
def test_clean_up_names_every_retained_resource(synthesis: Synthesis, stack: str) -> None:
    retained = sorted(
        lid for lid, r in synthesis.templates[stack]["Resources"].items() if r.get("DeletionPolicy") == "Retain"
    )
    assert retained, stack
    line = row(section("Clean up: what `cdk destroy` leaves behind"), stack)
    missing = [lid for lid in retained if f"`{lid}`" not in line]
    assert not missing, f"README Clean up, {stack}: add {missing} (DeletionPolicy Retain) with how to delete them"
    named = set(re.findall(r"`([A-Za-z0-9]+[0-9A-F]{8})`", line))
    assert named <= set(retained), f"README Clean up, {stack}: {sorted(named - set(retained))} are no longer retained"


def _alarm_metrics(template: dict[str, Any]) -> tuple[int, int]:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    metrics = sum(
        len([m for m in a["Properties"]["Metrics"] if "MetricStat" in m]) if "Metrics" in a["Properties"] else 1
        for a in alarms.values()
    )
    return len(alarms), metrics


@pytest.mark.parametrize("stack", APP_STACKS)
def test_idle_cost_counts_match_the_templates(synthesis: Synthesis, stack: str) -> None:
    template = synthesis.templates[stack]
    line = row(section("Idle cost per stack"), stack)
    keys = len(resources(template, "AWS::KMS::Key"))
    assert f"{keys} KMS keys × $1.00 = ${keys:.2f}" in line or f"{keys} KMS keys = ${keys:.2f}" in line, (stack, keys)
    alarms, metrics = _alarm_metrics(template)
    if alarms:
        assert f"{alarms} alarms on {metrics} metrics" in line, (stack, alarms, metrics)
    for acl in resources(template, "AWS::WAFv2::WebACL").values():
        rules = len(acl["Properties"]["Rules"])
        assert f"{rules} rules × $1.00" in line or "WAF $9.00" in line and rules == 4, (stack, rules)
    dashboards = len(resources(template, "AWS::CloudWatch::Dashboard"))
    assert ("dashboard $3.00" in line) == (dashboards == 1), (stack, dashboards)


def test_idle_cost_instance_arithmetic_uses_the_repository_prices(synthesis: Synthesis) -> None:
    from cdk_llm_serving.eks_inferentia.data import inf2_prices
    from cdk_llm_serving.sagemaker_endpoint.instances import hourly_price

    text = section("Idle cost per stack")
    for stack, instance in (("RagStack", "ml.g5.2xlarge"), ("LoraStack", "ml.g5.12xlarge")):
        (config,) = resources(synthesis.templates[stack], "AWS::SageMaker::EndpointConfig").values()
        variant = config["Properties"]["ProductionVariants"][0]
        assert variant["InstanceType"] == instance and variant["InitialInstanceCount"] == 1
        price = hourly_price(instance, "us-east-1")
        assert f"1 × {instance}" in row(text, stack)
        assert f"× ${price}/h × {HOURS} h = ${price * HOURS:,.2f}" in row(text, stack), (stack, price)
    inf2 = inf2_prices("us-east-1")["inf2.xlarge"]
    assert f"inf2.xlarge × ${inf2}/h × {HOURS} h = ${inf2 * HOURS:,.2f}" in text
    (nodegroup,) = resources(synthesis.templates["InferentiaStack"], "AWS::EKS::Nodegroup").values()
    props = nodegroup["Properties"]
    assert props["InstanceTypes"] == ["m7i.xlarge"] and props["ScalingConfig"]["MinSize"] == 2
    assert "2 × m7i.xlarge" in row(text, "InferentiaStack")
    assert len(resources(synthesis.templates["InferentiaStack"], "AWS::EC2::NatGateway")) == 1
    endpoints = [
        e
        for e in resources(synthesis.templates["RagStack"], "AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType") == "Interface"
    ]
    azs = {len(e["Properties"]["SubnetIds"]) for e in endpoints}
    assert f"{len(endpoints)} interface VPC endpoints × {azs.pop()} AZs" in row(text, "RagStack") and not azs


def test_the_region_table_is_the_generated_one() -> None:
    spec = importlib.util.spec_from_file_location("region_matrix", REPO / "scripts" / "region_matrix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["region_matrix"] = module
    spec.loader.exec_module(module)
    block = re.search(r"<!-- region-matrix:start[^\n]*-->\n(.*?)\n<!-- region-matrix:end -->", README, re.S)
    assert block, "README lacks the region-matrix markers"
    assert block.group(1) == module.markdown(), "regenerate the table: .venv/bin/python scripts/region_matrix.py"


#: CLI commands that are customizations, not generated from an API operation.
_CUSTOM = {("s3", "cp"), ("s3", "sync"), ("s3", "rb"), ("s3", "rm"), ("eks", "update-kubeconfig")}
_GLOBAL = {"query", "output", "region", "profile", "no-cli-pager", "max-items", "starting-token", "page-size"}


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    out = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("aws "):
                out.append(line.split())
            for sub in re.findall(r"\$\((aws [^)]*)\)", line):
                out.append(sub.split())
    return out


def test_aws_cli_commands_in_the_readme_exist_in_the_service_models() -> None:
    session = botocore.session.get_session()
    commands = _commands()
    assert len(commands) >= 15, commands
    checked = set()
    for words in commands:
        service, operation = words[1], words[2]
        if (service, operation) in _CUSTOM:
            continue
        model = session.get_service_model("s3" if service == "s3api" else service)
        ops = {xform_name(name, "-"): name for name in model.operation_names}
        assert operation in ops, f"aws {service} {operation}: no such operation"
        members = model.operation_model(ops[operation]).input_shape.members
        params = {xform_name(name, "-") for name in members}
        booleans = {xform_name(n, "-") for n, s in members.items() if s.type_name == "boolean"}
        for flag in (w[2:] for w in words[3:] if w.startswith("--")):
            if flag in _GLOBAL:
                continue
            assert flag in params or (flag.startswith("no-") and flag[3:] in booleans), (
                f"aws {service} {operation} --{flag}"
            )
        checked.add(f"{service} {operation}")
    # the commands this documentation hinges on
    assert {
        "cognito-idp admin-create-user",
        "cognito-idp admin-set-user-password",
        "kms schedule-key-deletion",
        "logs delete-log-group",
        "cognito-idp delete-user-pool",
        "cloudformation list-stack-resources",
    } <= checked
