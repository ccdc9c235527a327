"""What every document index offers, created here or imported: the knowledge base's ID and ARN, and grants.

:class:`IDocumentIndex` is what other code consumes: the gateway's ``KnowledgeBaseRetrieval`` takes an index's
``knowledge_base_id`` and ``knowledge_base_arn``, and ``grant_retrieve`` gives a role ``bedrock:Retrieve`` on it.
:class:`DocumentIndex` and :class:`ImportedDocumentIndex` (from
``DocumentIndex.from_knowledge_base_attributes``) both implement it through :class:`DocumentIndexBase`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .._errors import ProblemCollector
from .._types import typed_props
from .config import document_prefix_problems
from .rules import KNOWLEDGE_BASE_REFERENCE, KnowledgeBaseReference


@runtime_checkable
class IDocumentIndex(Protocol):
    """A document index as other code uses it (created by :class:`DocumentIndex` or imported)."""

    knowledge_base_id: str
    """ID of the Bedrock knowledge base (10 letters or digits), possibly a token."""
    knowledge_base_arn: str
    """ARN of the Bedrock knowledge base, possibly a token."""

    def grant_retrieve(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to query the index (``bedrock:Retrieve``)."""
        ...


class DocumentIndexBase(Construct):
    """Shared behaviour of :class:`DocumentIndex` and :class:`ImportedDocumentIndex`.

    Subclasses set :attr:`knowledge_base_id`, :attr:`knowledge_base_arn`, :attr:`document_bucket` and
    :attr:`document_prefix` before the grants are used.
    """

    knowledge_base_id: str
    """ID of the Bedrock knowledge base; pass it (with :attr:`knowledge_base_arn`) to the gateway's
    ``KnowledgeBaseRetrieval``."""
    knowledge_base_arn: str
    """ARN of the Bedrock knowledge base (``arn:<partition>:bedrock:<region>:<account>:knowledge-base/<id>``)."""
    document_bucket: s3.IBucket | None = None
    """The bucket the knowledge base reads its documents from (``None`` for an index imported without it)."""
    document_prefix: str | None = None
    """The prefix the knowledge base indexes (``None``: the whole bucket)."""

    # ---------------------------------------------------------------------------------------------------
    # grants

    def grant_retrieve(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to query the index with ``bedrock-agent-runtime`` ``Retrieve``.

        Grants ``bedrock:Retrieve`` on exactly this knowledge base. The query is embedded and the vectors are
        read with the knowledge base's own role, so nothing else is needed. ``RetrieveAndGenerate`` additionally
        needs ``bedrock:RetrieveAndGenerate`` and ``bedrock:InvokeModel`` on the generating model; grant those
        yourself if you use it.
        """
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["bedrock:Retrieve"], resource_arns=[self.knowledge_base_arn]
        )

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put documents under the document prefix (and use the bucket's key through S3).

        Grants ``s3:PutObject`` and ``s3:AbortMultipartUpload`` on ``<bucket>/<prefix>*`` and, for a
        KMS-encrypted bucket, ``kms:GenerateDataKey`` and ``kms:Decrypt`` (multipart uploads) on its key, only
        through S3 (``kms:ViaService``). An imported index needs its ``document_bucket`` for this.
        """
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:PutObject", "s3:AbortMultipartUpload"], resource_arns=[self._objects_arn()]
        )
        key = self._document_key()
        if key is not None:
            grant = grant.combine(
                iam.Grant.add_to_principal(
                    grantee=grantee,
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resource_arns=[key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{cdk.Aws.REGION}.amazonaws.com"}},
                )
            )
        return grant

    def _bucket(self) -> s3.IBucket:
        if self.document_bucket is None:
            raise ValueError(
                f"{self.node.path}: grant_upload needs the document bucket; pass document_bucket= (and "
                "document_prefix=) to DocumentIndex.from_knowledge_base_attributes"
            )
        return self.document_bucket

    def _objects_arn(self) -> str:
        return self._bucket().arn_for_objects(f"{self.document_prefix or ''}*")

    def _document_key(self) -> kms.IKey | None:
        return self._bucket().encryption_key


class ImportedDocumentIndex(DocumentIndexBase):
    """A knowledge base created elsewhere (another stack, app or the console): retrieval and upload grants
    only. Build it with :meth:`DocumentIndex.from_knowledge_base_attributes`."""

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        knowledge_base_id: str,
        knowledge_base_arn: str | None = None,
        document_bucket: s3.IBucket | None = None,
        document_prefix: str | None = None,
    ) -> None:
        """
        :param knowledge_base_id: ID of the knowledge base (10 letters or digits), or a token such as
            ``Fn.import_value(...)``. Required.
        :param knowledge_base_arn: its ARN, when it is not in this stack's account and Region (its ID must be
            ``knowledge_base_id``). Default: - ``arn:<partition>:bedrock:<region>:<account>:knowledge-base/<id>``
            of this stack
        :param document_bucket: the bucket its data source reads, for ``grant_upload`` (give an imported
            bucket its ``encryption_key`` so uploads may use it). Default: - none: ``grant_upload`` raises
        :param document_prefix: the prefix its data source indexes, ending with ``/``. Default: - the whole bucket
        """
        super().__init__(scope, construct_id)
        p = ProblemCollector.for_construct(self)
        for problem in KNOWLEDGE_BASE_REFERENCE.problems(
            KnowledgeBaseReference(knowledge_base_id=knowledge_base_id, knowledge_base_arn=knowledge_base_arn)
        ) + document_prefix_problems(document_prefix):
            p.add(problem)
        p.check(
            document_prefix is None or document_bucket is not None,
            "document_prefix only applies with document_bucket (it scopes grant_upload to <bucket>/<prefix>*)",
        )
        p.raise_if_any()
        self.knowledge_base_id = knowledge_base_id
        self.knowledge_base_arn = knowledge_base_arn or cdk.Stack.of(self).format_arn(
            service="bedrock", resource="knowledge-base", resource_name=knowledge_base_id
        )
        self.document_bucket = document_bucket
        self.document_prefix = document_prefix
