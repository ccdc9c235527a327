"""Shared helpers for the gateway runtime tests (config, gateway factory, output capture)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from bedrock_standin import BedrockStandIn
from knowledge_base_standin import KnowledgeBaseStandIn
from sagemaker_standin import SageMakerStandIn

#: The runtime under test (flat modules, as deployed to /var/task).
GATEWAY_DIR = Path(__file__).resolve().parents[2] / "lambda" / "gateway"

#: Knowledge bases of the retrieval aliases.
RAG_KB = "ABCDEFGHIJ"
RAG_BEDROCK_KB = "KB12345678"

#: GATEWAY_CONFIG used by the tests (small limits keep oversize tests cheap).
#: Two Bedrock aliases, SageMaker aliases (a plain endpoint and two LoRA adapters as
#: inference components of one endpoint) and two retrieval (RAG) aliases.
TEST_CONFIG = {
    "models": [
        {
            "alias": "chat-fast",
            "target": {"type": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
            "maxTokensCap": 4096,
            "defaultMaxTokens": 1024,
        },
        {
            "alias": "chat-small",
            "target": {"type": "bedrock", "modelId": "amazon.nova-micro-v1:0"},
            "maxTokensCap": 256,
            "defaultMaxTokens": 128,
        },
        {
            "alias": "sm-chat",
            "target": {"type": "sagemaker", "endpointName": "llm-endpoint"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
        },
        {
            "alias": "sm-adapter-a",
            "target": {"type": "sagemaker", "endpointName": "lora-endpoint", "inferenceComponentName": "adapter-a"},
            "maxTokensCap": 1024,
            "defaultMaxTokens": 256,
        },
        {
            "alias": "sm-adapter-b",
            "target": {"type": "sagemaker", "endpointName": "lora-endpoint", "inferenceComponentName": "adapter-b"},
            "maxTokensCap": 1024,
            "defaultMaxTokens": 256,
        },
        {
            "alias": "rag",
            "target": {"type": "sagemaker", "endpointName": "lora-endpoint", "inferenceComponentName": "adapter-a"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
            "retrieval": {"knowledgeBaseId": RAG_KB, "numberOfResults": 3},
        },
        {
            "alias": "rag-bedrock",
            "target": {"type": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
            "maxTokensCap": 4096,
            "defaultMaxTokens": 1024,
            "retrieval": {"knowledgeBaseId": RAG_BEDROCK_KB},
        },
        # One alias per container kind (the stand-in plays the kind named in STANDIN_CONTAINERS).
        {
            "alias": "sm-lmi",
            "target": {"type": "sagemaker", "endpointName": "lmi-endpoint", "containerKind": "lmi"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
        },
        {
            "alias": "sm-lmi-async",
            "target": {"type": "sagemaker", "endpointName": "lmi-async-endpoint", "containerKind": "lmi"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
        },
        {
            "alias": "sm-tgi",
            "target": {"type": "sagemaker", "endpointName": "tgi-endpoint", "containerKind": "tgi"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
        },
        {
            "alias": "sm-vllm",
            "target": {"type": "sagemaker", "endpointName": "vllm-endpoint", "containerKind": "vllm"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
        },
        # vLLM started without --enable-auto-tool-choice (not in STANDIN_TOOL_PARSERS).
        {
            "alias": "sm-vllm-plain",
            "target": {"type": "sagemaker", "endpointName": "vllm-plain-endpoint", "containerKind": "vllm"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
        },
        # A Bedrock alias configured for reasoning (Anthropic extended thinking).
        {
            "alias": "chat-think",
            "reasoning": True,
            "target": {"type": "bedrock", "modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
            "maxTokensCap": 8192,
            "defaultMaxTokens": 1024,
        },
        # Embedding aliases.
        {
            "alias": "embed-titan",
            "kind": "embedding",
            "target": {"type": "bedrock", "modelId": "amazon.titan-embed-text-v2:0"},
        },
        {
            "alias": "embed-cohere",
            "kind": "embedding",
            "target": {"type": "bedrock", "modelId": "cohere.embed-multilingual-v3"},
        },
    ],
    "limits": {"maxMessages": 8, "maxTotalChars": 2000, "maxRequestBytes": 16384},
    "logContent": False,
    "metricsNamespace": "Test/Gateway",
    "serviceName": "test-gateway",
}

#: Container behind each stand-in endpoint (``lmi``: LMI rolling batch, the default ``LlmContainer.lmi()``;
#: ``lmi-async``: LMI's async vLLM handler, ``LlmContainer.lmi(lora=...)``); other endpoints run vLLM.
STANDIN_CONTAINERS = {
    "lmi-endpoint": "lmi",
    "lmi-async-endpoint": "lmi-async",
    "tgi-endpoint": "tgi",
    "vllm-endpoint": "vllm",
    "vllm-plain-endpoint": "vllm",
}
#: Endpoints whose container has tool parsing on (vLLM --enable-auto-tool-choice --tool-call-parser,
#: LMI OPTION_ENABLE_AUTO_TOOL_CHOICE/OPTION_TOOL_CALL_PARSER).
STANDIN_TOOL_PARSERS = {"vllm-endpoint", "lmi-endpoint", "lmi-async-endpoint"}

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDTESTTESTTEST",
    "AWS_SECRET_ACCESS_KEY": "test-secret",
    "AWS_SESSION_TOKEN": "test-token",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    # One attempt and a short read timeout so fault tests are deterministic and fast.
    "GATEWAY_BEDROCK_MAX_ATTEMPTS": "1",
    "GATEWAY_BEDROCK_READ_TIMEOUT": "1",
    "GATEWAY_BEDROCK_CONNECT_TIMEOUT": "1",
}


class LineSink:
    """Thread-safe text sink standing in for stdout of the shared test gateway."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def take(self) -> str:
        """Return and forget everything written so far."""
        with self._lock:
            text, self._parts = "".join(self._parts), []
        return text


#: Telemetry output of the session gateway (tests read it via ``telemetry_lines``).
SINK = LineSink()


def make_gateway(
    standin: BedrockStandIn,
    config: dict,
    mp: pytest.MonkeyPatch,
    stream=None,
    *,
    sagemaker: SageMakerStandIn | None = None,
    knowledge_base: KnowledgeBaseStandIn | None = None,
):
    """Start a real gateway server (ephemeral port) whose boto3 clients target the stand-ins.

    ``standin`` serves Bedrock; ``sagemaker`` and ``knowledge_base`` (optional)
    serve SageMaker Runtime and Retrieve.  Telemetry goes to ``stream``
    (default: the real ``sys.stdout``).
    """
    import server as gateway_server
    from config import parse_config
    from service import ChatService
    from telemetry import Telemetry

    for key in ("AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_ENDPOINT_URL"):
        mp.delenv(key, raising=False)
    for key, value in AWS_ENV.items():
        mp.setenv(key, value)
    mp.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", standin.url)
    if sagemaker is not None:
        mp.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker.url)
    if knowledge_base is not None:
        mp.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", knowledge_base.url)
    cfg = parse_config(config)
    srv = gateway_server.make_server(cfg, "127.0.0.1", 0, service=ChatService(cfg, telemetry=Telemetry(cfg, stream)))
    gateway_server.start_in_thread(srv)
    return srv


class OutputLines:
    """Collects the JSON lines (logs and EMF) a gateway writes; ``read`` returns new text."""

    def __init__(self, read) -> None:
        self._read = read
        self.text = ""

    def json_lines(self) -> list[dict]:
        self.text += self._read()
        out = []
        for line in self.text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_for(self, predicate, timeout: float = 3.0) -> list[dict]:
        """Wait until some JSON line satisfies ``predicate``; return all matching lines."""
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.json_lines() if predicate(d)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.01)
