"""Fixtures for the gateway runtime tests.

Puts ``lambda/gateway`` on ``sys.path`` (the runtime is a flat set of modules,
exactly as deployed to /var/task), starts one Bedrock, one SageMaker Runtime and
one Knowledge Base (Retrieve) stand-in and one real gateway server per session,
and points the gateway's boto3 clients at the stand-ins with dummy credentials.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Keep lambda/gateway free of __pycache__ (it is deployed as a Lambda asset).
sys.dont_write_bytecode = True

HERE = Path(__file__).resolve().parent
GATEWAY_DIR = HERE.parents[1] / "lambda" / "gateway"
for p in (str(GATEWAY_DIR), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from gateway_harness import (  # noqa: E402,F401
    SINK,
    STANDIN_CONTAINERS,
    STANDIN_TOOL_PARSERS,
    TEST_CONFIG,
    BedrockStandIn,
    KnowledgeBaseStandIn,
    OutputLines,
    SageMakerStandIn,
    make_gateway,
)


@pytest.fixture(scope="session")
def standin_server():
    server = BedrockStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server):
    """The Bedrock stand-in, reset for each test."""
    standin_server.reset()
    yield standin_server
    standin_server.reset()


@pytest.fixture(scope="session")
def sagemaker_server():
    server = SageMakerStandIn().start()
    server.containers.update(STANDIN_CONTAINERS)
    server.tool_parsers.update(STANDIN_TOOL_PARSERS)
    yield server
    server.stop()


@pytest.fixture
def sagemaker(sagemaker_server):
    """The SageMaker Runtime stand-in, reset for each test."""
    sagemaker_server.reset()
    yield sagemaker_server
    sagemaker_server.reset()


@pytest.fixture(scope="session")
def knowledge_base_server():
    server = KnowledgeBaseStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def knowledge_base(knowledge_base_server):
    """The Knowledge Base (Retrieve) stand-in, reset for each test."""
    knowledge_base_server.reset()
    yield knowledge_base_server
    knowledge_base_server.reset()


@pytest.fixture(scope="session")
def gateway_server(standin_server, sagemaker_server, knowledge_base_server):
    with pytest.MonkeyPatch.context() as mp:
        srv = make_gateway(
            standin_server,
            TEST_CONFIG,
            mp,
            stream=SINK,
            sagemaker=sagemaker_server,
            knowledge_base=knowledge_base_server,
        )
        yield srv
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def gateway(gateway_server, standin):
    """Base URL (``http://127.0.0.1:<port>``) of the running gateway."""
    host, port = gateway_server.server_address[:2]
    return f"http://{host}:{port}"


@pytest.fixture
def client(gateway):
    """The official OpenAI SDK pointed at the gateway."""
    from openai import OpenAI

    with OpenAI(base_url=f"{gateway}/v1", api_key="x", max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
def telemetry_lines(gateway_server):
    """Telemetry written by the session gateway during this test."""
    SINK.take()
    return OutputLines(SINK.take)


@pytest.fixture
def stdout_lines(capsys):
    """Everything written to the real ``sys.stdout`` during this test."""
    return OutputLines(lambda: capsys.readouterr().out)
