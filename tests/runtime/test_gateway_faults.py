"""Permanent deployment errors are not retried by SDKs: the gateway keeps the 502 but sends
``x-should-retry: false``, which the openai SDK obeys (openai 3.51 ``_base_client.py`` ``_should_retry``:
"If the server explicitly says whether or not to retry, obey"), so a missing model access, an invalid model ID,
a missing IAM grant or an unknown knowledge base costs one upstream call, not three.  Transient errors keep
being retried.
"""

from __future__ import annotations

import openai
import pytest

from bedrock_standin import Behaviour
from knowledge_base_standin import Behaviour as KnowledgeBaseBehaviour
from sagemaker_standin import Behaviour as SageMakerBehaviour
from test_gateway_http import USER, raw


@pytest.fixture
def retrying(gateway):
    """The openai SDK with its usual retries (two), pointed at the gateway."""
    with openai.OpenAI(base_url=f"{gateway}/v1", api_key="x", max_retries=2, timeout=10) as c:
        yield c


DEPLOYMENT_ERRORS = [
    ("AccessDeniedException", "User is not authorized to perform: bedrock:InvokeModel", "upstream_access_denied"),
    (
        "ResourceNotFoundException",
        "Model use case details have not been submitted for this account.",
        "upstream_model_not_found",
    ),
    ("ValidationException", "The provided model identifier is invalid.", "upstream_model_not_found"),
]


@pytest.mark.parametrize("error, message, code", DEPLOYMENT_ERRORS)
@pytest.mark.parametrize("stream", [False, True])
def test_deployment_errors_are_not_retried(retrying, standin, error, message, code, stream):
    standin.script(Behaviour(error=error, error_message=message))
    with pytest.raises(openai.APIStatusError) as info:
        list(retrying.chat.completions.create(model="chat-fast", messages=USER, stream=stream))
    assert info.value.status_code == 502 and info.value.body["code"] == code
    assert info.value.response.headers["x-should-retry"] == "false"
    assert len(standin.requests) == 1  # the SDK did not try again


def test_transient_errors_are_still_retried(gateway, standin):
    standin.script(Behaviour(error="InternalServerException"), Behaviour(error="InternalServerException"))
    with openai.OpenAI(base_url=f"{gateway}/v1", api_key="x", max_retries=2, timeout=10) as c:
        resp = c.chat.completions.create(model="chat-fast", messages=USER)
    assert resp.choices[0].message.content == "Hello, world!" and len(standin.requests) == 3


def test_embedding_access_denied_is_not_retried(retrying, standin):
    standin.script(Behaviour(error="AccessDeniedException"))
    with pytest.raises(openai.APIStatusError) as info:
        retrying.embeddings.create(model="embed-titan", input="hello")
    assert info.value.response.headers["x-should-retry"] == "false" and len(standin.requests) == 1


def test_unknown_knowledge_base_is_not_retried(retrying, standin, knowledge_base):
    knowledge_base.script(KnowledgeBaseBehaviour(error="ResourceNotFoundException"))
    with pytest.raises(openai.APIStatusError) as info:
        retrying.chat.completions.create(model="rag-bedrock", messages=USER)
    assert info.value.body["code"] == "upstream_knowledge_base_not_found"
    assert info.value.response.headers["x-should-retry"] == "false" and len(knowledge_base.requests) == 1


def test_unknown_sagemaker_endpoint_is_not_retried(retrying, sagemaker):
    sagemaker.script(
        SageMakerBehaviour(
            error="ValidationError", error_message="Endpoint llm-endpoint of account 123456789012 not found."
        )
    )
    with pytest.raises(openai.APIStatusError) as info:
        retrying.chat.completions.create(model="sm-chat", messages=USER)
    assert info.value.response.headers["x-should-retry"] == "false" and len(sagemaker.requests) == 1


@pytest.mark.parametrize("error, status", [("ThrottlingException", 429), ("ValidationException", 400)])
def test_other_errors_carry_no_retry_verdict(gateway, standin, error, status):
    standin.script(Behaviour(error=error, error_message="temperature must be <= 1"))
    got, headers, _ = raw(
        gateway,
        "POST",
        "/v1/chat/completions",
        b'{"model": "chat-fast", "messages": [{"role": "user", "content": "hi"}]}',
    )
    assert got == status and "x-should-retry" not in headers
