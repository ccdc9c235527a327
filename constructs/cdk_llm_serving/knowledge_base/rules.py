"""Upstream rules for DocumentIndex (Bedrock Knowledge Bases, S3 Vectors), checked at synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("KB.<NAME>", ...)``.

Subjects are small frozen dataclasses describing what the construct is about to emit; each kind of
subject has its own rule set (all with the prefix ``KB``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .._retained import RetainedName, fixed_name_problem
from .._rules import RuleSet, breaks_length, breaks_pattern, literal

_BOTOCORE_AGENT = "botocore bedrock-agent 2023-06-05 service-2.json"

#: Rules over the names of retained resources (subject: :class:`~cdk_llm_serving._retained.RetainedName`).
RULES: RuleSet[RetainedName] = RuleSet("KB")
RETAINED_NAMES = RULES
#: Rules over what CreateKnowledgeBase and CreateDataSource receive (subject: :class:`KnowledgeBaseSettings`).
KNOWLEDGE_BASE: RuleSet[KnowledgeBaseSettings] = RuleSet("KB")


@RULES.rule(
    "KB.RETAINED_NAME_UNIQUE",
    "A retained resource (the ingestion log group) must not carry a name that the next create of the stack asks for "
    "again (CreateLogGroup fails with ResourceAlreadyExistsException for the group a deleted stack left behind)",
    source="CloudFormation User Guide 'DeletionPolicy attribute' (Retain keeps the resource after stack deletion); "
    "botocore logs/2014-03-28 service-2.json CreateLogGroup errors (ResourceAlreadyExistsException)",
)
def _retained_name_unique(subject: RetainedName) -> Iterable[str]:
    yield from fixed_name_problem(subject)


# --------------------------------------------------------------------------------------------------
# The knowledge base and its data source


@dataclass(frozen=True)
class KnowledgeBaseSettings:
    """What a DocumentIndex sends to Bedrock: the knowledge base's name and description, the data source's
    description and its S3 inclusion prefix."""

    name: str
    """The knowledge base name (passed in or generated)."""
    description: str
    """The knowledge base description."""
    data_source_description: str
    """The data source description (generated from the prefix)."""
    inclusion_prefix: str | None
    """The data source's one inclusion prefix (``document_prefix``), or ``None`` for the whole bucket."""
    vector_bucket_name: str | None = None
    """The S3 Vectors bucket name (passed in or generated). Default: - not checked"""


#: ``Name`` of CreateKnowledgeBase and CreateDataSource.
NAME_RE = re.compile(r"^([0-9a-zA-Z][_-]?){1,100}$")
#: ``Description`` of CreateKnowledgeBase and CreateDataSource.
DESCRIPTION_MAX = 200
#: S3 Vectors vector bucket names.
VECTOR_BUCKET_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])$")
#: ``S3Prefix`` (an entry of ``S3DataSourceConfiguration.inclusionPrefixes``).
INCLUSION_PREFIX_MAX = 300


@KNOWLEDGE_BASE.rule(
    "KB.KNOWLEDGE_BASE_NAME",
    "A knowledge base name is 1 to 100 letters or digits, each optionally followed by one '-' or '_'",
    source=f"{_BOTOCORE_AGENT} shape Name (CreateKnowledgeBaseRequest.name): pattern ([0-9a-zA-Z][_-]?){{1,100}}",
)
def _knowledge_base_name(subject: KnowledgeBaseSettings) -> Iterable[str]:
    if breaks_pattern(subject.name, NAME_RE):
        yield (
            "knowledge_base_name must be 1 to 100 letters or digits, each optionally followed by one '-' or '_' "
            f"(pattern {NAME_RE.pattern}), got {subject.name!r}"
        )


@KNOWLEDGE_BASE.rule(
    "KB.VECTOR_BUCKET_NAME",
    "A vector bucket name is 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit",
    source="Amazon S3 User Guide 'Vector bucket naming rules' (s3-vectors-buckets-naming); botocore s3vectors "
    "2025-07-15 service-2.json shape VectorBucketName: min 3, max 63",
)
def _vector_bucket_name(subject: KnowledgeBaseSettings) -> Iterable[str]:
    if breaks_pattern(subject.vector_bucket_name, VECTOR_BUCKET_NAME_RE):
        yield (
            "vector_bucket_name must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a "
            f"letter or digit, got {subject.vector_bucket_name!r}"
        )


@KNOWLEDGE_BASE.rule(
    "KB.DESCRIPTION_LENGTH",
    "Knowledge base and data source descriptions are 1 to 200 characters",
    source=f"{_BOTOCORE_AGENT} shape Description (CreateKnowledgeBaseRequest.description and "
    "CreateDataSourceRequest.description): min 1, max 200",
)
def _description_length(subject: KnowledgeBaseSettings) -> Iterable[str]:
    for what, text in (
        ("description", subject.description),
        ("the data source description", subject.data_source_description),
    ):
        if breaks_length(text, 1, DESCRIPTION_MAX):
            yield f"{what} must be 1 to {DESCRIPTION_MAX} characters, got {len(text)}"


@KNOWLEDGE_BASE.rule(
    "KB.INCLUSION_PREFIX_LENGTH",
    "An S3 data source inclusion prefix is 1 to 300 characters",
    source=f"{_BOTOCORE_AGENT} shapes S3DataSourceConfiguration.inclusionPrefixes (S3Prefixes: 1 entry) and "
    "S3Prefix: min 1, max 300",
)
def _inclusion_prefix_length(subject: KnowledgeBaseSettings) -> Iterable[str]:
    prefix = subject.inclusion_prefix
    if breaks_length(prefix, 1, INCLUSION_PREFIX_MAX):
        yield (
            f"document_prefix must be 1 to {INCLUSION_PREFIX_MAX} characters (the data source's inclusion prefix), "
            f"got {len(prefix or '')} characters"
        )


# --------------------------------------------------------------------------------------------------
# An imported knowledge base


@dataclass(frozen=True)
class KnowledgeBaseReference:
    """Subject of KNOWLEDGE_BASE_REFERENCE: the ID and ARN an imported index is built from."""

    knowledge_base_id: str
    """The ID, possibly a token."""
    knowledge_base_arn: str | None
    """The ARN, possibly a token, or ``None`` (built from the ID)."""


#: Rules over the ID and ARN of an imported knowledge base (subject: :class:`KnowledgeBaseReference`).
KNOWLEDGE_BASE_REFERENCE: RuleSet[KnowledgeBaseReference] = RuleSet("KB")

#: ``Id`` (bedrock-agent) of a knowledge base.
KNOWLEDGE_BASE_ID_RE = re.compile(r"^[0-9a-zA-Z]{10}$")
#: ``KnowledgeBaseArn`` (bedrock-agent), with the ID captured.
KNOWLEDGE_BASE_ARN_RE = re.compile(
    r"^arn:aws(|-cn|-us-gov):bedrock:[a-zA-Z0-9-]*:[0-9]{12}:knowledge-base/(?P<id>[0-9a-zA-Z]+)$"
)
KNOWLEDGE_BASE_ARN_MAX = 128


@KNOWLEDGE_BASE_REFERENCE.rule(
    "KB.KNOWLEDGE_BASE_ID",
    "A knowledge base ID is exactly 10 letters or digits",
    source=f"{_BOTOCORE_AGENT} shape Id (GetKnowledgeBaseRequest.knowledgeBaseId): pattern [0-9a-zA-Z]{{10}}; "
    "botocore bedrock-agent-runtime 2023-07-26 service-2.json shape KnowledgeBaseId (Retrieve): max 10, ^[0-9a-zA-Z]+$",
)
def _knowledge_base_id(subject: KnowledgeBaseReference) -> Iterable[str]:
    kb_id = subject.knowledge_base_id
    if breaks_pattern(kb_id, KNOWLEDGE_BASE_ID_RE):
        yield f"knowledge_base_id must be 10 letters or digits (like 'ABCDEFGHIJ'), got {kb_id!r}"


@KNOWLEDGE_BASE_REFERENCE.rule(
    "KB.KNOWLEDGE_BASE_ARN",
    "A knowledge base ARN is arn:aws|aws-cn|aws-us-gov:bedrock:<region>:<12-digit account>:knowledge-base/<id>, at most "
    "128 characters, and names the knowledge base's own ID",
    source=f"{_BOTOCORE_AGENT} shape KnowledgeBaseArn (KnowledgeBase.knowledgeBaseArn): max 128, pattern "
    "arn:aws(|-cn|-us-gov):bedrock:[a-zA-Z0-9-]*:[0-9]{12}:knowledge-base/[0-9a-zA-Z]+",
)
def _knowledge_base_arn(subject: KnowledgeBaseReference) -> Iterable[str]:
    arn = subject.knowledge_base_arn
    if not literal(arn):
        return
    match = KNOWLEDGE_BASE_ARN_RE.match(arn)
    if match is None or len(arn) > KNOWLEDGE_BASE_ARN_MAX:
        yield f"knowledge_base_arn must look like 'arn:aws:bedrock:<region>:<account>:knowledge-base/<id>', got {arn!r}"
    elif literal(subject.knowledge_base_id) and match.group("id") != subject.knowledge_base_id:
        yield (
            f"knowledge_base_arn names knowledge base {match.group('id')!r}, not knowledge_base_id "
            f"{subject.knowledge_base_id!r}"
        )
