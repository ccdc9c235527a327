"""Per-use-case stacks composed from the cdk_llm_serving constructs."""

from __future__ import annotations

import aws_cdk as cdk

from .batch_stack import BatchSettings, BatchStack
from .catalog_stack import CatalogSettings, CatalogStack
from .chat_stack import DEFAULT_CHAT_MODELS, ChatSettings, ChatStack
from .inferentia_stack import InferentiaSettings, InferentiaStack
from .lora_stack import LoraSettings, LoraStack
from .pipeline_stack import PipelineSettings, PipelineStack
from .rag_stack import RagSettings, RagStack

__all__ = [
    "BatchSettings",
    "BatchStack",
    "DEFAULT_CHAT_MODELS",
    "CatalogSettings",
    "CatalogStack",
    "ChatSettings",
    "ChatStack",
    "InferentiaSettings",
    "InferentiaStack",
    "LoraSettings",
    "LoraStack",
    "PipelineSettings",
    "PipelineStack",
    "RagSettings",
    "RagStack",
    "build_app",
]


def build_app(app: cdk.App) -> cdk.App:
    """Add every use-case stack to ``app``, configured from its context, and the delivery pipeline when the context has
    a ``pipeline`` setting and the Service Catalog portfolio when it has a ``catalog`` setting. No environment lookups."""
    ChatStack(app, "ChatStack", settings=ChatSettings.from_context(app.node.try_get_context("chat")))
    InferentiaStack(
        app, "InferentiaStack", settings=InferentiaSettings.from_context(app.node.try_get_context("inferentia"))
    )
    RagStack(app, "RagStack", settings=RagSettings.from_context(app.node.try_get_context("rag")))
    LoraStack(app, "LoraStack", settings=LoraSettings.from_context(app.node.try_get_context("lora")))
    BatchStack(app, "BatchStack", settings=BatchSettings.from_context(app.node.try_get_context("batch")))
    catalog = app.node.try_get_context("catalog")
    if catalog:
        CatalogStack(
            app,
            "CatalogStack",
            settings=CatalogSettings.from_context(catalog),
            chat=ChatSettings.from_context(app.node.try_get_context("chat")),
            rag=RagSettings.from_context(app.node.try_get_context("rag")),
        )
    pipeline = app.node.try_get_context("pipeline")
    if pipeline:
        PipelineStack(app, "PipelineStack", settings=PipelineSettings.from_context(pipeline, app.node.try_get_context))
    return app
