"""Upstream rules for DocumentIndex (Bedrock Knowledge Bases, S3 Vectors), checked at synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("KB.<NAME>", ...)``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._retained import RetainedName, fixed_name_problem
from .._rules import RuleSet

#: Rules for DocumentIndex (Bedrock Knowledge Bases, S3 Vectors). Subjects are whatever the construct is about to emit.
RULES: RuleSet = RuleSet("KB")


@RULES.rule(
    "KB.RETAINED_NAME_UNIQUE",
    "A retained resource (the ingestion log group) must not carry a name that the next create of the stack asks for "
    "again (CreateLogGroup fails with ResourceAlreadyExistsException for the group a deleted stack left behind)",
    source="CloudFormation User Guide 'DeletionPolicy attribute' (Retain keeps the resource after stack deletion); "
    "botocore logs/2014-03-28 service-2.json CreateLogGroup errors (ResourceAlreadyExistsException)",
)
def _retained_name_unique(subject: RetainedName) -> Iterable[str]:
    yield from fixed_name_problem(subject)
