"""A model the deployment cannot use is a 502 deployment problem with its own metric, not a 400 that
blames the request: the real server driven by the OpenAI SDK, Bedrock replaced at the wire.

Bedrock answers an unknown model ID, or a geographic profile called from a Region outside its
geography, with HTTP 400 ValidationException "The provided model identifier is invalid."
(aws-samples/amazon-bedrock-workshop#315, langchain-ai/open_deep_research#224 for a ``us.`` profile);
a model that only runs through an inference profile with "Invocation of model ID ... with on-demand
throughput isn't supported" (cline/cline#2482). A first call without the AWS Marketplace subscription
or the Anthropic use-case form returns AccessDeniedException / ResourceNotFoundException (Bedrock
User Guide, "Request access to models").
"""

from __future__ import annotations

import openai
import pytest

from bedrock_standin import Behaviour

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
USER = [{"role": "user", "content": "Say hello"}]

MODEL_ID_REJECTIONS = [
    "The provided model identifier is invalid.",
    "Invocation of model ID anthropic.claude-haiku-4-5-20251001-v1:0 with on-demand throughput isn\u2019t supported. "
    "Retry your request with the ID or ARN of an inference profile that contains this model.",
]


@pytest.mark.parametrize("message", MODEL_ID_REJECTIONS)
@pytest.mark.parametrize("stream", [False, True])
def test_model_id_rejection_is_a_502_deployment_problem(client, standin, message, stream):
    standin.script(Behaviour(error="ValidationException", error_message=message))
    with pytest.raises(openai.APIStatusError) as info:
        list(client.chat.completions.create(model="chat-fast", messages=USER, stream=stream))
    exc = info.value
    assert exc.status_code == 502
    assert exc.body["type"] == "api_error" and exc.body["code"] == "upstream_model_not_found"
    assert HAIKU in exc.message and "deployment problem" in exc.message
    assert message in exc.message  # Bedrock's own words help whoever fixes the deployment


def test_other_validation_errors_still_blame_the_request(client, standin):
    standin.script(Behaviour(error="ValidationException", error_message="temperature must be <= 1"))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat-fast", messages=USER)
    assert info.value.body["code"] == "invalid_request"


@pytest.mark.parametrize(
    "error, message",
    [
        ("ValidationException", "The provided model identifier is invalid."),
        (
            "AccessDeniedException",
            "Model access is denied due to IAM user or service role is not authorized to "
            "perform the required AWS Marketplace actions",
        ),
        ("ResourceNotFoundException", "Model use case details have not been submitted for this account."),
    ],
)
def test_model_config_errors_metric(client, standin, telemetry_lines, error, message):
    standin.script(Behaviour(error=error, error_message=message))
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="chat-fast", messages=USER)
    assert info.value.status_code == 502
    main = telemetry_lines.wait_for(lambda d: "_aws" in d and "ModelConfigErrors" in d)
    assert main and main[-1]["ModelConfigErrors"] == [1.0] and main[-1]["ModelAlias"] == "chat-fast"


def test_success_and_request_errors_count_no_model_config_error(client, standin, telemetry_lines):
    client.chat.completions.create(model="chat-fast", messages=USER)
    ok = telemetry_lines.wait_for(lambda d: "_aws" in d and d.get("Errors") == [0.0])
    standin.script(Behaviour(error="ThrottlingException"))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="chat-fast", messages=USER)
    throttled = telemetry_lines.wait_for(lambda d: "_aws" in d and d.get("Throttles") == [1.0])
    assert ok[-1]["ModelConfigErrors"] == [0.0] and throttled[-1]["ModelConfigErrors"] == [0.0]
