"""Typed options of :class:`DocumentIndex`: embedding models, chunking strategies, ingestion triggers.

No constructs here, only values and their validation (each ``problems()`` returns one line per problem;
the construct collects them all and raises once). Wrong Python types are rejected when an option object is
built (:class:`~cdk_llm_serving._types.TypedOptions`), naming the field.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_events as events

from .._types import TypedOptions

#: Amazon Titan Text Embeddings V2, the default embedding model.
TITAN_TEXT_EMBEDDINGS_V2 = "amazon.titan-embed-text-v2:0"


@dataclass(frozen=True)
class EmbeddingModelSpec(TypedOptions):
    """What synth knows about a Bedrock embedding model (an entry of :data:`KNOWN_EMBEDDING_MODELS`)."""

    dimensions: tuple[int, ...]
    """Vector sizes the model can produce (the first is its default). Required."""
    configurable: bool
    """Whether the knowledge base passes ``Dimensions`` to the model (only models with a choice accept it). Required."""
    max_input_tokens: int
    """Longest input the model embeds; no chunk may be larger. Required."""


#: Embedding models whose vector sizes synth can check. Other model IDs are accepted with a warning
#: (the index dimension is then only checked against S3 Vectors' 1..4096 range).
KNOWN_EMBEDDING_MODELS: dict[str, EmbeddingModelSpec] = {
    TITAN_TEXT_EMBEDDINGS_V2: EmbeddingModelSpec(dimensions=(1024, 512, 256), configurable=True, max_input_tokens=8192),
    "amazon.titan-embed-text-v1": EmbeddingModelSpec(dimensions=(1536,), configurable=False, max_input_tokens=8192),
    "cohere.embed-english-v3": EmbeddingModelSpec(dimensions=(1024,), configurable=False, max_input_tokens=512),
    "cohere.embed-multilingual-v3": EmbeddingModelSpec(dimensions=(1024,), configurable=False, max_input_tokens=512),
}

#: S3 Vectors index dimension range (AWS::S3Vectors::Index ``Dimension``).
MAX_INDEX_DIMENSION = 4096
#: Upper bound for any chunk (Titan V2's input limit; also the CloudFormation limit of hierarchical levels).
MAX_CHUNK_TOKENS = 8192

_MODEL_ID_RE = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9][A-Za-z0-9.:_-]*$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def embedding_model_problems(model_id: Any, dimensions: Any) -> list[str]:
    """Problems with the embedding model ID and the index dimension derived from it."""
    out: list[str] = []
    if not isinstance(model_id, str) or not model_id:
        return [
            f"embedding_model_id must be a Bedrock foundation model ID like {TITAN_TEXT_EMBEDDINGS_V2!r}, got {model_id!r}"
        ]
    if model_id.startswith("arn:"):
        out.append(
            f"embedding_model_id must be a foundation model ID, not an ARN (the ARN is built with the stack's "
            f"partition and Region), got {model_id!r}"
        )
    elif not _MODEL_ID_RE.match(model_id):
        out.append(
            f"embedding_model_id {model_id!r} is not a Bedrock foundation model ID like {TITAN_TEXT_EMBEDDINGS_V2!r}"
        )
    spec = KNOWN_EMBEDDING_MODELS.get(model_id)
    if not _is_int(dimensions):
        out.append(f"dimensions must be an integer, got {dimensions!r}")
    elif spec is not None and dimensions not in spec.dimensions:
        allowed = ", ".join(str(d) for d in sorted(spec.dimensions))
        out.append(
            f"dimensions must be one of {allowed} for {model_id} (the vector index is created with the same "
            f"dimension), got {dimensions}"
        )
    elif spec is None and not 1 <= dimensions <= MAX_INDEX_DIMENSION:
        out.append(f"dimensions must be between 1 and {MAX_INDEX_DIMENSION} (S3 Vectors index limit), got {dimensions}")
    return out


_PREFIX_RE = re.compile(r"^[^*?\\]+$")


def document_prefix_problems(prefix: str | None) -> list[str]:
    """Problems with a document prefix beyond its length (``KB.INCLUSION_PREFIX_LENGTH``): it must name a
    "folder", so that ``<prefix>*`` grants and the upload rule's prefix match cover exactly its documents."""
    if prefix is None or cdk.Token.is_unresolved(prefix) or not prefix:
        return []
    if _PREFIX_RE.match(prefix) and not prefix.startswith("/") and prefix.endswith("/") and "//" not in prefix:
        return []
    return [
        "document_prefix must end with '/' and must not start with '/' or contain '//' or wildcards ('*', '?', "
        f"'\\'), e.g. 'documents/', got {prefix!r}"
    ]


class ChunkingKind(enum.Enum):
    """The data source's ``ChunkingStrategy``; pick one with the :class:`ChunkingStrategy` factories, whose
    default is :meth:`ChunkingStrategy.fixed_size`."""

    FIXED_SIZE = "FIXED_SIZE"
    """Chunks of about ``max_tokens`` tokens with a percentage overlap (the default kind)."""
    SEMANTIC = "SEMANTIC"
    """Chunks split where the meaning changes (extra embedding-model calls during ingestion)."""
    HIERARCHICAL = "HIERARCHICAL"
    """Small child chunks are matched, their larger parent chunk is returned."""
    NONE = "NONE"
    """Each file is one chunk."""


@dataclass(frozen=True, kw_only=True)
class ChunkingStrategy(TypedOptions):
    """How the data source splits documents into chunks before embedding them. Use the factory methods.

    Chunking is fixed when the data source is created (CloudFormation replaces the data source, and the
    next ingestion re-embeds every document, when it changes).
    """

    kind: ChunkingKind
    """The strategy. Required (set by the factory)."""
    max_tokens: int = 0
    """``FIXED_SIZE`` and ``SEMANTIC``: largest chunk in tokens. Default: - 0, unused by the other kinds (the
    factories default it to 300)"""
    overlap_percentage: int = 0
    """``FIXED_SIZE``: overlap between neighbouring chunks in percent. Default: - 0, unused by the other kinds
    (``fixed_size()`` defaults it to 20)"""
    buffer_size: int = 0
    """``SEMANTIC``: sentences around each sentence compared together, 0 or 1. Default: 0"""
    breakpoint_percentile_threshold: int = 0
    """``SEMANTIC``: dissimilarity percentile that starts a new chunk. Default: - 0, unused by the other kinds
    (``semantic()`` defaults it to 95)"""
    parent_max_tokens: int = 0
    """``HIERARCHICAL``: largest parent chunk in tokens. Default: - 0, unused by the other kinds
    (``hierarchical()`` defaults it to 1500)"""
    child_max_tokens: int = 0
    """``HIERARCHICAL``: largest child chunk in tokens. Default: - 0, unused by the other kinds
    (``hierarchical()`` defaults it to 300)"""
    overlap_tokens: int = 0
    """``HIERARCHICAL``: tokens repeated between neighbouring chunks. Default: - 0, unused by the other kinds
    (``hierarchical()`` defaults it to 60)"""

    @staticmethod
    def fixed_size(*, max_tokens: int = 300, overlap_percentage: int = 20) -> ChunkingStrategy:
        """Chunks of about ``max_tokens`` tokens, neighbours overlapping by ``overlap_percentage`` percent.

        :param max_tokens: 1 to 8192 (and at most the embedding model's input limit). Default: 300
        :param overlap_percentage: 1 to 99. Default: 20
        """
        return ChunkingStrategy(
            kind=ChunkingKind.FIXED_SIZE, max_tokens=max_tokens, overlap_percentage=overlap_percentage
        )

    @staticmethod
    def semantic(
        *, max_tokens: int = 300, buffer_size: int = 0, breakpoint_percentile_threshold: int = 95
    ) -> ChunkingStrategy:
        """Chunks split where the meaning changes (an embedding model compares neighbouring sentences; billed
        as extra model calls during ingestion).

        :param max_tokens: 1 to 8192 (and at most the embedding model's input limit). Default: 300
        :param buffer_size: sentences around each sentence compared together, 0 or 1. Default: 0
        :param breakpoint_percentile_threshold: dissimilarity percentile that starts a new chunk, 50 to 99. Default: 95
        """
        return ChunkingStrategy(
            kind=ChunkingKind.SEMANTIC,
            max_tokens=max_tokens,
            buffer_size=buffer_size,
            breakpoint_percentile_threshold=breakpoint_percentile_threshold,
        )

    @staticmethod
    def hierarchical(
        *, parent_max_tokens: int = 1500, child_max_tokens: int = 300, overlap_tokens: int = 60
    ) -> ChunkingStrategy:
        """Small child chunks are embedded and matched; their larger parent chunk is what retrieval returns.

        :param parent_max_tokens: 1 to 8192. Default: 1500
        :param child_max_tokens: 1 to 8192 and smaller than ``parent_max_tokens``. Default: 300
        :param overlap_tokens: tokens repeated between neighbouring chunks, at least 1 and smaller than
            ``child_max_tokens``. Default: 60
        """
        return ChunkingStrategy(
            kind=ChunkingKind.HIERARCHICAL,
            parent_max_tokens=parent_max_tokens,
            child_max_tokens=child_max_tokens,
            overlap_tokens=overlap_tokens,
        )

    @staticmethod
    def none() -> ChunkingStrategy:
        """Each file is one chunk (pre-split your documents so that each fits the embedding model)."""
        return ChunkingStrategy(kind=ChunkingKind.NONE)

    def problems(self, *, max_input_tokens: int = MAX_CHUNK_TOKENS) -> list[str]:
        """Problems with these values (CloudFormation's ``AWS::Bedrock::DataSource`` limits and the model's input)."""
        limit = min(max_input_tokens, MAX_CHUNK_TOKENS)
        out: list[str] = []

        def in_range(name: str, value: Any, low: int, high: int, why: str = "") -> None:
            if not _is_int(value) or not low <= value <= high:
                out.append(f"chunking.{name} must be between {low} and {high}{why}, got {value!r}")

        model_note = (
            f" (the embedding model's input limit is {max_input_tokens} tokens)" if limit < MAX_CHUNK_TOKENS else ""
        )
        if self.kind is ChunkingKind.FIXED_SIZE:
            in_range("max_tokens", self.max_tokens, 1, limit, model_note)
            in_range("overlap_percentage", self.overlap_percentage, 1, 99)
        elif self.kind is ChunkingKind.SEMANTIC:
            in_range("max_tokens", self.max_tokens, 1, limit, model_note)
            in_range("buffer_size", self.buffer_size, 0, 1)
            in_range("breakpoint_percentile_threshold", self.breakpoint_percentile_threshold, 50, 99)
        elif self.kind is ChunkingKind.HIERARCHICAL:
            in_range("parent_max_tokens", self.parent_max_tokens, 1, MAX_CHUNK_TOKENS)
            in_range("child_max_tokens", self.child_max_tokens, 1, limit, model_note)
            if _is_int(self.parent_max_tokens) and _is_int(self.child_max_tokens):
                if self.child_max_tokens >= self.parent_max_tokens:
                    out.append(
                        f"chunking.child_max_tokens ({self.child_max_tokens}) must be smaller than "
                        f"chunking.parent_max_tokens ({self.parent_max_tokens})"
                    )
            if not _is_int(self.overlap_tokens) or self.overlap_tokens < 1:
                out.append(f"chunking.overlap_tokens must be at least 1, got {self.overlap_tokens!r}")
            elif _is_int(self.child_max_tokens) and self.overlap_tokens >= self.child_max_tokens:
                out.append(
                    f"chunking.overlap_tokens ({self.overlap_tokens}) must be smaller than "
                    f"chunking.child_max_tokens ({self.child_max_tokens})"
                )
        return out

    def render(self) -> bedrock.CfnDataSource.ChunkingConfigurationProperty:
        """The data source's ``ChunkingConfiguration``."""
        cfg = bedrock.CfnDataSource
        if self.kind is ChunkingKind.FIXED_SIZE:
            return cfg.ChunkingConfigurationProperty(
                chunking_strategy="FIXED_SIZE",
                fixed_size_chunking_configuration=cfg.FixedSizeChunkingConfigurationProperty(
                    max_tokens=self.max_tokens, overlap_percentage=self.overlap_percentage
                ),
            )
        if self.kind is ChunkingKind.SEMANTIC:
            return cfg.ChunkingConfigurationProperty(
                chunking_strategy="SEMANTIC",
                semantic_chunking_configuration=cfg.SemanticChunkingConfigurationProperty(
                    max_tokens=self.max_tokens,
                    buffer_size=self.buffer_size,
                    breakpoint_percentile_threshold=self.breakpoint_percentile_threshold,
                ),
            )
        if self.kind is ChunkingKind.HIERARCHICAL:
            return cfg.ChunkingConfigurationProperty(
                chunking_strategy="HIERARCHICAL",
                hierarchical_chunking_configuration=cfg.HierarchicalChunkingConfigurationProperty(
                    level_configurations=[
                        cfg.HierarchicalChunkingLevelConfigurationProperty(max_tokens=self.parent_max_tokens),
                        cfg.HierarchicalChunkingLevelConfigurationProperty(max_tokens=self.child_max_tokens),
                    ],
                    overlap_tokens=self.overlap_tokens,
                ),
            )
        return cfg.ChunkingConfigurationProperty(chunking_strategy="NONE")


#: Shortest schedule accepted: ingestion jobs run one at a time per data source, so a tighter schedule
#: only queues conflicting starts.
MIN_SCHEDULE = cdk.Duration.minutes(15)
#: The schedule of ``IngestionTrigger()``: every 24 hours.
DEFAULT_SCHEDULE = cdk.Duration.hours(24)


@dataclass(frozen=True, kw_only=True)
class IngestionTrigger(TypedOptions):
    """What starts an ingestion job (a sync of the document prefix into the vector index).

    Both triggers start the same Step Functions state machine; it can also be started by hand or from a
    pipeline (``aws stepfunctions start-execution``). ``IngestionTrigger()`` starts it on upload and every
    24 hours; :meth:`manual` on neither.
    """

    on_upload: bool = True
    """Start on every S3 "Object Created" and "Object Deleted" event under the document prefix (EventBridge);
    ``False``: not on uploads. Default: true"""
    schedule: cdk.Duration | events.Schedule | Literal[False] | None = None
    """Also start on a schedule: a ``Duration`` (a rate, at least 15 minutes, whole minutes) or an
    ``aws_events.Schedule`` (cron). The schedule is the safety net for changes a running job did not see;
    ``False``: no schedule. Default: - every 24 hours"""

    @staticmethod
    def manual() -> IngestionTrigger:
        """No automatic trigger: start the ingestion state machine yourself."""
        return IngestionTrigger(on_upload=False, schedule=False)

    def problems(self) -> list[str]:
        """Problems with the schedule (EventBridge rates and the one-job-at-a-time limit)."""
        out: list[str] = []
        s = self.schedule
        if isinstance(s, cdk.Duration):
            if cdk.Token.is_unresolved(s.to_seconds()):
                out.append("ingestion.schedule must be a literal Duration, not a token")
            else:
                seconds = s.to_seconds()
                if seconds % 60:
                    out.append(
                        f"ingestion.schedule must be a whole number of minutes (EventBridge rates), got {seconds} seconds"
                    )
                elif seconds < MIN_SCHEDULE.to_seconds():
                    out.append(
                        f"ingestion.schedule must be at least 15 minutes (one ingestion job runs at a time per data "
                        f"source), got {int(seconds // 60)} minutes"
                    )
        elif s is not None and s is not False and not isinstance(s, events.Schedule):
            # 0 passes the type check (0 == False); say what the field takes.
            out.append(
                f"ingestion.schedule must be a Duration, an aws_events.Schedule, False (no schedule) or None (every "
                f"24 hours), got {s!r}"
            )
        return out

    def event_schedule(self) -> events.Schedule | None:
        """The EventBridge schedule, or ``None`` when ``schedule=False``."""
        s = DEFAULT_SCHEDULE if self.schedule is None else self.schedule
        if s is False:
            return None
        if isinstance(s, cdk.Duration):
            return events.Schedule.rate(s)
        return s
