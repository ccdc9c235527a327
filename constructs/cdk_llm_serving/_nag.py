"""The one place cdk-nag findings are acknowledged.

cdk-nag 3 runs as a CDK validation plugin and reads CDK-native acknowledgments. Every
acknowledgment in this library goes through :func:`acknowledge` so that it is always
narrow (one finding id, on one construct this library created) and carries a reason.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from constructs import IConstruct

_MIN_REASON = 20


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge exactly one cdk-nag finding on ``construct`` (and its L1 children).

    :param construct: a construct created by this library (never a user's or a shared one).
    :param finding: the full id printed by cdk-nag, e.g.
        ``"AwsSolutions::AwsSolutions-IAM5[Resource::*]"`` or
        ``"NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ"``.
    :param reason: why the finding does not apply or is accepted; shown in the audit trail.
    """
    if "::" not in finding:
        raise ValueError(
            f"finding must be a full cdk-nag id like 'AwsSolutions::AwsSolutions-IAM5[...]', got {finding!r}"
        )
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"acknowledgment of {finding} needs a specific reason, got {reason!r}")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def nag_resource(scope: IConstruct, value: str) -> str:
    """How cdk-nag prints a resource in a finding id: ``Ref`` → ``<Id>``, ``GetAtt`` → ``<Id.Attr>``, joins concatenated."""
    return _render(cdk.Stack.of(scope).resolve(value))


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return "<" + ".".join(value["Fn::GetAtt"]) + ">"
        if "Fn::Join" in value:
            sep: str
            parts: list[object]
            sep, parts = value["Fn::Join"]
            return sep.join(_render(p) for p in parts)
        # Any other intrinsic (Fn::Select, Fn::Split...): cdk-nag prints JSON.stringify of it (compact, key order kept).
        return json.dumps(value, separators=(",", ":"))
    raise ValueError(f"cannot render {value!r} as a cdk-nag resource")
