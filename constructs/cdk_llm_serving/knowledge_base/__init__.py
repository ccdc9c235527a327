"""DocumentIndex (Amazon Bedrock Knowledge Base over S3 documents, vectors in S3 Vectors) and its types."""

from . import rules
from .base import DocumentIndexBase, IDocumentIndex, ImportedDocumentIndex
from .config import (
    KNOWN_EMBEDDING_MODELS,
    TITAN_TEXT_EMBEDDINGS_V2,
    ChunkingKind,
    ChunkingStrategy,
    EmbeddingModelSpec,
    IngestionTrigger,
)
from .construct import NON_FILTERABLE_METADATA_KEYS, S3_VECTORS_ACTIONS, DocumentIndex

__all__ = [
    "KNOWN_EMBEDDING_MODELS",
    "NON_FILTERABLE_METADATA_KEYS",
    "S3_VECTORS_ACTIONS",
    "TITAN_TEXT_EMBEDDINGS_V2",
    "ChunkingKind",
    "ChunkingStrategy",
    "DocumentIndex",
    "DocumentIndexBase",
    "EmbeddingModelSpec",
    "IDocumentIndex",
    "ImportedDocumentIndex",
    "IngestionTrigger",
    "rules",
]
