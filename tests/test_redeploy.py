"""Every stack can be deployed again after ``cdk destroy``.

CloudFormation keeps a resource whose DeletionPolicy is Retain (or RetainExceptOnCreate) when the
stack is deleted (CloudFormation User Guide, "DeletionPolicy attribute"). If that resource has a
physical name that the next create of the stack asks for again, the create fails ("already exists":
CloudWatch Logs CreateLogGroup -> ResourceAlreadyExistsException, botocore logs/2014-03-28) and the
whole stack rolls back. So no retained resource may carry a literal name, or one built only from
stack-wide values that repeat (stack name, Region, account).

Which property is a resource type's physical name comes from the CloudFormation resource provider
schemas (the registry schemas cfn-lint ships, us-east-1): a writable property of the type's
``primaryIdentifier`` (AWS::Logs::LogGroup LogGroupName, AWS::S3::Bucket BucketName, AWS::IAM::Role
RoleName, ...) or a top-level create-only property named ``*Name`` (AWS::SQS::Queue QueueName,
AWS::SNS::Topic TopicName, ...).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from cdk_llm_serving._retained import is_unique_per_create
from harness import Synthesis

RETAINING_POLICIES = {"Retain", "RetainExceptOnCreate"}


@cache
def name_properties(resource_type: str) -> tuple[str, ...]:
    """The properties of ``resource_type`` that hold a user-chosen physical name (see module docstring)."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    except Exception:  # custom resources (Custom::*) and types without a registry schema have no name property
        return ()
    read_only = set(schema.get("readOnlyProperties", []))
    names = [p for p in schema.get("primaryIdentifier", []) if p not in read_only]
    names += [p for p in schema.get("createOnlyProperties", []) if p.count("/") == 2 and p.endswith("Name")]
    return tuple(sorted({p.split("/")[-1] for p in names}))


def all_templates(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    """Every synthesized template: the stacks and their nested stacks (LoraStack's spill stacks)."""
    templates = dict(synthesis.templates)
    for path in sorted(Path(synthesis.outdir).glob("*.nested.template.json")):
        templates[path.name] = json.loads(path.read_text())
    return templates


def fixed_retained_names(template: dict[str, Any]) -> list[str]:
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("DeletionPolicy") not in RETAINING_POLICIES:
            continue
        props = resource.get("Properties", {})
        for prop in name_properties(resource["Type"]):
            if prop in props and not is_unique_per_create(props[prop]):
                found.append(f"{logical_id} ({resource['Type']}) {prop}={json.dumps(props[prop])}")
    return found


def test_name_properties_come_from_the_registry_schemas() -> None:
    assert name_properties("AWS::Logs::LogGroup") == ("LogGroupName",)
    assert name_properties("AWS::S3::Bucket") == ("BucketName",)
    assert "RoleName" in name_properties("AWS::IAM::Role")
    assert name_properties("AWS::KMS::Key") == ()  # KeyId is generated: nothing to collide
    assert name_properties("AWS::Cognito::UserPool") == ()  # UserPoolId is generated; UserPoolName need not be unique


def test_the_check_catches_fixed_names() -> None:
    """The two names the review found (H §1), as they were synthesized before the fix."""
    retained = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    before = {
        "Resources": {
            "GatewayWafLogsC7233BE1": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "aws-waf-logs-ChatStackGateway8498D912"},
                **retained,
            },
            "DocumentsIngestionLogs8C1DE118": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/aws/vendedlogs/states/RagStackDocuments2FA9797A"},
                **retained,
            },
            "NamedAfterTheStack": {  # the stack name repeats on the next create
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "docs"]]}},
                **retained,
            },
            "KubectlLogs": {  # named after a generated function name: new for every create
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": {"Fn::Join": ["", ["/aws/lambda/", {"Ref": "Handler"}]]}},
                **retained,
            },
        }
    }
    assert [f.split(" ")[0] for f in fixed_retained_names(before)] == [
        "GatewayWafLogsC7233BE1",
        "DocumentsIngestionLogs8C1DE118",
        "NamedAfterTheStack",
    ]


@pytest.fixture(scope="module")
def templates(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    return all_templates(synthesis)


def test_no_retained_resource_has_a_name_a_redeploy_would_reuse(templates: dict[str, dict[str, Any]]) -> None:
    assert any(name.endswith(".nested.template.json") for name in templates)  # LoraStack's spill stacks are covered
    offending = {name: found for name, t in templates.items() if (found := fixed_retained_names(t))}
    assert not offending, json.dumps(offending, indent=1)


def test_the_named_retained_log_groups_end_with_the_stack_id(templates: dict[str, dict[str, Any]]) -> None:
    """The WAF and document-ingestion log groups keep their fixed prefix (WAF requires aws-waf-logs-,
    Step Functions vended logs use /aws/vendedlogs/) and end with part of AWS::StackId."""
    stack_id = {"Ref": "AWS::StackId"}
    checked = 0
    for template in templates.values():
        for resource in template.get("Resources", {}).values():
            name = (
                resource.get("Properties", {}).get("LogGroupName")
                if resource["Type"] == "AWS::Logs::LogGroup"
                else None
            )
            if not isinstance(name, dict) or "Fn::Join" not in name:
                continue
            head = name["Fn::Join"][1][0]
            if isinstance(head, str) and head.startswith(("aws-waf-logs-", "/aws/vendedlogs/states/")):
                assert stack_id in _walk(name), name
                checked += 1
    assert checked >= 8  # every gateway with WAF, every DocumentIndex


def _walk(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out += _walk(v)
    elif isinstance(value, list):
        for v in value:
            out += _walk(v)
    return out
