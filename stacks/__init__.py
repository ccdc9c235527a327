"""Per-use-case stacks composed from the cdk_llm_serving constructs."""

from __future__ import annotations

import aws_cdk as cdk

from .batch_stack import BatchSettings, BatchStack
from .chat_stack import DEFAULT_CHAT_MODELS, ChatSettings, ChatStack
from .inferentia_stack import InferentiaSettings, InferentiaStack
from .lora_stack import LoraSettings, LoraStack
from .rag_stack import RagSettings, RagStack

__all__ = [
    "BatchSettings",
    "BatchStack",
    "DEFAULT_CHAT_MODELS",
    "ChatSettings",
    "ChatStack",
    "InferentiaSettings",
    "InferentiaStack",
    "LoraSettings",
    "LoraStack",
    "RagSettings",
    "RagStack",
    "build_app",
]


def build_app(app: cdk.App) -> cdk.App:
    """Add every use-case stack to ``app``, configured from its context. No environment lookups."""
    ChatStack(app, "ChatStack", settings=ChatSettings.from_context(app.node.try_get_context("chat")))
    InferentiaStack(
        app, "InferentiaStack", settings=InferentiaSettings.from_context(app.node.try_get_context("inferentia"))
    )
    RagStack(app, "RagStack", settings=RagSettings.from_context(app.node.try_get_context("rag")))
    LoraStack(app, "LoraStack", settings=LoraSettings.from_context(app.node.try_get_context("lora")))
    BatchStack(app, "BatchStack", settings=BatchSettings.from_context(app.node.try_get_context("batch")))
    return app
