"""Physical names of resources that outlive their stack (``RemovalPolicy.RETAIN``).

CloudFormation leaves a retained resource behind when the stack is deleted. If its name is fixed
(a literal, or derived only from construct paths, which are the same on every deploy), the next
create of the same stack asks for the same name again, and the service refuses:
CloudWatch Logs ``CreateLogGroup`` fails with ``ResourceAlreadyExistsException``, so the whole
stack rolls back. The fix used here: end such names with part of ``AWS::StackId``, whose UUID is
new for every stack create and stable for the stack's lifetime (updates keep it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk


def stack_id_suffix() -> str:
    """The last 12 hex digits of the stack's UUID (``arn:...:stack/<name>/<uuid>``), as a CloudFormation token.

    Unique per stack create, unchanged by updates: a retained resource named with it never collides
    with the one a deleted predecessor of the stack left behind.
    """
    uuid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
    return cdk.Fn.select(4, cdk.Fn.split("-", uuid))


def _intrinsics(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _intrinsics(v)
    elif isinstance(value, list):
        for v in value:
            yield from _intrinsics(v)


def is_unique_per_create(resolved: Any) -> bool:
    """Whether a resolved CloudFormation name changes with every stack create.

    True when it references ``AWS::StackId`` or another resource of the template (``Ref`` /
    ``Fn::GetAtt`` of a logical ID: its physical ID is generated per create). ``AWS::StackName``,
    ``AWS::Region`` and literals repeat on the next create.
    """
    for node in _intrinsics(resolved):
        ref = node.get("Ref")
        if ref == "AWS::StackId" or (isinstance(ref, str) and not ref.startswith("AWS::")):
            return True
        if "Fn::GetAtt" in node:
            return True
    return False


@dataclass(frozen=True)
class RetainedName:
    """Subject of the families' RETAINED_NAME_UNIQUE rules: a resource retained on stack deletion and its name."""

    resource: str
    """Construct path or description, for the message."""
    name_property: str
    """``LogGroupName``, ``BucketName``, ..."""
    resolved: Any
    """The resolved CloudFormation value (a literal string or an intrinsic); ``None`` when unnamed."""


def fixed_name_problem(subject: RetainedName) -> list[str]:
    """The problem with retaining ``subject.resource`` under its name, if any."""
    resolved = subject.resolved
    if resolved is None or is_unique_per_create(resolved):
        return []
    shown = resolved if isinstance(resolved, str) else "a name built from literals and stack-wide values"
    return [
        f"{subject.resource} is retained when the stack is deleted and its {subject.name_property} {shown!r} is the same on every "
        f"deploy, so re-creating the stack fails (the name already exists); end the name with stack_id_suffix() "
        f"or do not retain the resource"
    ]
