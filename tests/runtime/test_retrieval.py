"""Retrieval (RAG) aliases: Knowledge Base ``Retrieve`` before the model call, citations back.

End to end with the official OpenAI SDK against the real gateway; Retrieve is
served by ``knowledge_base_standin.py`` (``AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME``),
the models by the SageMaker and Bedrock stand-ins.  Unit tests cover the pure
functions of ``retrieval.py``.
"""

from __future__ import annotations

import json

import openai
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

import openai_compat
import retrieval
from bedrock_standin import Behaviour as BedrockBehaviour
from config import Retrieval, parse_config
from gateway_harness import RAG_BEDROCK_KB, RAG_KB, SINK, TEST_CONFIG, make_gateway
from knowledge_base_standin import Behaviour, default_results, s3_result
from sagemaker_standin import Behaviour as SageMakerBehaviour
from test_gateway_http import raw, stream_frames

QUESTION = "How long do I have to return an item?"
CONVERSATION = [
    {"role": "system", "content": "You are the shop assistant."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": QUESTION},
]
EXPECTED_CITATIONS = [
    {
        "index": 1,
        "source": "s3://docs/returns.pdf",
        "text": "Returns are accepted within 30 days of delivery.",
        "score": 0.83,
    },
    {
        "index": 2,
        "source": "s3://docs/refunds.md",
        "text": "Refunds are paid to the original payment method.",
        "score": 0.61,
    },
]


def _system(sagemaker_request) -> str:
    messages = sagemaker_request.body["messages"]
    assert messages[0]["role"] == "system"
    return messages[0]["content"]


# --------------------------------------------------------------------------- happy paths


def test_rag_on_sagemaker_non_streaming(client, sagemaker, knowledge_base, standin):
    resp = client.chat.completions.create(model="rag", messages=CONVERSATION)
    assert resp.choices[0].message.content == "Hello, world!"
    # The SDK keeps fields it does not know about.
    assert resp.model_extra["citations"] == EXPECTED_CITATIONS
    assert resp.to_dict()["citations"] == EXPECTED_CITATIONS
    (kb_request,) = knowledge_base.requests
    assert kb_request.knowledge_base_id == RAG_KB
    assert kb_request.body == {
        "retrievalQuery": {"text": QUESTION},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 3}},
    }
    auth = kb_request.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256") and "/bedrock/aws4_request" in auth
    (sm_request,) = sagemaker.requests
    assert (sm_request.endpoint_name, sm_request.inference_component) == ("lora-endpoint", "adapter-a")
    system = _system(sm_request)
    assert system.startswith("You are the shop assistant.\n\n")  # the caller's prompt comes first
    assert "[1] (source: s3://docs/returns.pdf)\nReturns are accepted within 30 days of delivery." in system
    assert "[2] (source: s3://docs/refunds.md)\nRefunds are paid to the original payment method." in system
    assert "[1] or [2][3]" in system  # the citation instruction
    assert [m["role"] for m in sm_request.body["messages"]] == ["system", "user", "assistant", "user"]
    assert sm_request.body["messages"][-1]["content"] == QUESTION
    assert standin.requests == []


def test_rag_on_sagemaker_streaming_citations_on_first_chunk(client, sagemaker, knowledge_base):
    sagemaker.script(SageMakerBehaviour(chunks=["See", " [1]."], part_size=4))
    chunks = list(
        client.chat.completions.create(
            model="rag", messages=CONVERSATION, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].model_extra["citations"] == EXPECTED_CITATIONS
    assert all("citations" not in (c.model_extra or {}) for c in chunks[1:])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "See [1]."
    assert chunks[-1].usage.total_tokens == 13
    assert "Sources:" in _system(sagemaker.requests[0])


def test_rag_streaming_wire_format(gateway, sagemaker, knowledge_base):
    frames = stream_frames(gateway, model="rag", messages=CONVERSATION)
    assert frames[-1] == "data: [DONE]"
    payloads = [json.loads(f[6:]) for f in frames[:-1]]
    assert payloads[0]["citations"] == EXPECTED_CITATIONS
    assert [("citations" in p) for p in payloads] == [True] + [False] * (len(payloads) - 1)


@pytest.mark.parametrize("stream", [False, True])
def test_rag_on_bedrock(client, standin, knowledge_base, sagemaker, stream):
    standin.script(BedrockBehaviour(chunks=["Within 30 days [1]."]))
    result = client.chat.completions.create(model="rag-bedrock", messages=CONVERSATION, stream=stream)
    if stream:
        chunks = list(result)
        cited = chunks[0].model_extra["citations"]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        cited, text = result.model_extra["citations"], result.choices[0].message.content
    assert cited == EXPECTED_CITATIONS and text == "Within 30 days [1]."
    (kb_request,) = knowledge_base.requests
    assert kb_request.knowledge_base_id == RAG_BEDROCK_KB
    assert kb_request.body["retrievalConfiguration"]["vectorSearchConfiguration"]["numberOfResults"] == 5
    (req,) = standin.requests
    system = [block["text"] for block in req.body["system"]]
    assert system[0] == "You are the shop assistant." and len(system) == 2
    assert system[1].startswith(retrieval.INSTRUCTIONS) and "[2] (source: s3://docs/refunds.md)" in system[1]
    assert [m["role"] for m in req.body["messages"]] == ["user", "assistant", "user"]
    assert sagemaker.requests == []


def test_no_results_answers_without_sources(client, sagemaker, knowledge_base):
    knowledge_base.script(Behaviour(results=[]))
    resp = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
    assert resp.model_extra["citations"] == []
    assert sagemaker.requests[0].body["messages"] == [
        {"role": "system", "content": retrieval.NO_SOURCES},
        {"role": "user", "content": QUESTION},
    ]


def test_citation_sources_and_truncation(client, standin, knowledge_base):
    long_text = "word " * 300
    knowledge_base.script(
        Behaviour(
            results=[
                s3_result(long_text, "s3://docs/long.txt", 0.9),
                {
                    "content": {"type": "IMAGE", "byteContent": "data:image/png;base64,AAAA"},
                    "location": {"type": "S3", "s3Location": {"uri": "s3://docs/image.png"}},
                    "score": 0.5,
                },
                {
                    "content": {"type": "TEXT", "text": "From the web."},
                    "location": {"type": "WEB", "webLocation": {"url": "https://example.com/faq"}},
                },
                {"content": {"type": "TEXT", "text": "No location."}, "score": 0.1},
            ]
        )
    )
    resp = client.chat.completions.create(model="rag-bedrock", messages=[{"role": "user", "content": QUESTION}])
    cited = resp.model_extra["citations"]
    assert [(c["index"], c["source"], c["score"]) for c in cited] == [
        (1, "s3://docs/long.txt", 0.9),
        (2, "https://example.com/faq", None),
        (3, None, 0.1),
    ]
    assert len(cited[0]["text"]) <= 503 and cited[0]["text"].endswith("...")
    (system,) = [block["text"] for block in standin.requests[0].body["system"]]
    assert long_text.strip() in system  # the model sees the whole passage
    assert "[3] (source: unknown)\nNo location." in system and "image.png" not in system


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    "error, status, etype, retry_after",
    [
        ("ThrottlingException", 429, "rate_limit_exceeded", "2"),
        ("ServiceQuotaExceededException", 429, "rate_limit_exceeded", "2"),
        ("ValidationException", 400, "invalid_request_error", None),
        ("AccessDeniedException", 502, "api_error", None),
        ("ResourceNotFoundException", 502, "api_error", None),
        ("DependencyFailedException", 502, "api_error", None),
        ("BadGatewayException", 502, "api_error", None),
        ("InternalServerException", 502, "api_error", None),
        ("ConflictException", 502, "api_error", None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_retrieve_errors_are_mapped_before_the_model_is_called(
    client, sagemaker, knowledge_base, error, status, etype, retry_after, stream
):
    knowledge_base.script(Behaviour(error=error, error_message="query is too long for the embedding model"))
    with pytest.raises(openai.APIStatusError) as info:
        result = client.chat.completions.create(model="rag", messages=CONVERSATION, stream=stream)
        list(result) if stream else None
    exc = info.value
    assert exc.status_code == status and exc.body["type"] == etype
    assert exc.response.headers.get("retry-after") == retry_after
    if error == "ValidationException":
        assert "query is too long for the embedding model" in exc.message
    if error in ("AccessDeniedException", "ResourceNotFoundException"):
        assert RAG_KB in exc.message and "deployment problem" in exc.message
    assert sagemaker.requests == []


def test_retrieve_timeout_is_504(client, sagemaker, knowledge_base):
    knowledge_base.script(Behaviour(delay=1.3))  # read timeout is 1 s in tests
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="rag", messages=CONVERSATION)
    assert info.value.status_code == 504 and info.value.body["type"] == "timeout"
    assert "knowledge base" in info.value.message and sagemaker.requests == []


def test_model_errors_after_retrieval_still_map(client, sagemaker, knowledge_base):
    sagemaker.script(
        SageMakerBehaviour(error="ModelError", original_status=400, original_message='{"message": "context too long"}')
    )
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="rag", messages=CONVERSATION)
    assert "context too long" in info.value.message and len(knowledge_base.requests) == 1


def test_mid_stream_error_after_citations(gateway, sagemaker, knowledge_base):
    sagemaker.script(SageMakerBehaviour(chunks=["a", "b"], stream_error="ModelStreamError", error_after=1))
    frames = stream_frames(gateway, model="rag", messages=CONVERSATION)
    assert "data: [DONE]" not in frames
    payloads = [json.loads(f[6:]) for f in frames]
    assert payloads[0]["citations"] == EXPECTED_CITATIONS and "error" in payloads[-1]


# --------------------------------------------------------------------------- telemetry


def test_request_log_and_metrics_record_retrieval(client, sagemaker, knowledge_base, telemetry_lines):
    client.chat.completions.create(model="rag", messages=CONVERSATION)
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert log["alias"] == "rag" and log["model_id"] == "lora-endpoint/adapter-a"
    assert log["retrieval_results"] == 2 and log["retrieval_ms"] > 0
    emf = telemetry_lines.wait_for(lambda d: "_aws" in d and "RetrievalLatency" in d)
    assert emf and emf[0]["RetrievalResults"] == [2.0] and emf[0]["RetrievalLatency"][0] > 0
    names = {m["Name"]: m.get("Unit") for m in emf[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names["RetrievalLatency"] == "Milliseconds" and names["RetrievalResults"] == "Count"
    # No content without logContent: neither passages nor the question.
    assert "Returns are accepted" not in telemetry_lines.text and QUESTION not in telemetry_lines.text
    assert "citations" not in log


def test_failed_retrieval_is_logged_with_its_error_type(client, sagemaker, knowledge_base, telemetry_lines):
    knowledge_base.script(Behaviour(error="ThrottlingException"))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="rag", messages=CONVERSATION)
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert log["status"] == 429 and log["error_type"] == "RetrieveThrottlingException"
    assert log.get("retrieval_results") is None and log["retrieval_ms"] > 0  # null fields are dropped
    typed = telemetry_lines.wait_for(lambda d: "_aws" in d and d.get("ErrorType") == "RetrieveThrottlingException")
    assert typed and typed[0]["ModelAlias"] == "rag"


def test_log_content_includes_citations(standin, sagemaker, knowledge_base, monkeypatch, stdout_lines):
    cfg = json.loads(json.dumps(TEST_CONFIG))
    cfg["logContent"] = True
    cfg["serviceName"] = "test-gateway-rag-content"  # own Powertools logger, default stdout
    srv = make_gateway(standin, cfg, monkeypatch, sagemaker=sagemaker, knowledge_base=knowledge_base)
    try:
        body = json.dumps({"model": "rag", "messages": CONVERSATION}).encode()
        status, _, _ = raw(f"http://127.0.0.1:{srv.server_address[1]}", "POST", "/v1/chat/completions", body)
        assert status == 200
        assert stdout_lines.wait_for(lambda d: "_aws" in d)
        (log,) = stdout_lines.wait_for(lambda d: d.get("message") == "request")
        assert log["citations"] == EXPECTED_CITATIONS
        assert log["prompt"]["messages"][-1]["content"] == QUESTION
    finally:
        srv.shutdown()
        srv.server_close()


def test_no_retrieval_client_without_retrieval_aliases(standin, monkeypatch):
    cfg = json.loads(json.dumps(TEST_CONFIG))
    cfg["models"] = [m for m in cfg["models"] if "retrieval" not in m]
    srv = make_gateway(standin, cfg, monkeypatch, stream=SINK)
    try:
        assert srv.service.retriever is None
    finally:
        srv.server_close()


# --------------------------------------------------------------------------- unit

CONFIG = parse_config(TEST_CONFIG)


def _request(messages, alias="rag"):
    return openai_compat.parse_chat_request({"model": alias, "messages": messages}, CONFIG)


def test_query_is_the_last_user_message_cut_at_the_end():
    assert retrieval.query_text(_request(CONVERSATION)) == QUESTION
    ends_with_assistant = [*CONVERSATION, {"role": "assistant", "content": "Let me check"}]
    assert retrieval.query_text(_request(ends_with_assistant)) == QUESTION
    request = _request([{"role": "user", "content": "x"}])
    long = openai_compat.Message("user", (openai_compat.Text("a" * 5 + "b" * retrieval.MAX_QUERY_CHARS),))
    long_request = type(request)(model=request.model, messages=(long,))
    assert retrieval.query_text(long_request) == "b" * retrieval.MAX_QUERY_CHARS


def test_retrieve_params():
    assert retrieval.retrieve_params(Retrieval("ABCDEFGHIJ", 7), "q") == {
        "knowledgeBaseId": "ABCDEFGHIJ",
        "retrievalQuery": {"text": "q"},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 7}},
    }


@pytest.mark.parametrize(
    "result, source",
    [
        ({"location": {"type": "S3", "s3Location": {"uri": "s3://b/k"}}}, "s3://b/k"),
        ({"location": {"type": "WEB", "webLocation": {"url": "https://w"}}}, "https://w"),
        ({"location": {"type": "CONFLUENCE", "confluenceLocation": {"url": "https://c"}}}, "https://c"),
        ({"location": {"type": "SHAREPOINT", "sharePointLocation": {"url": "https://sp"}}}, "https://sp"),
        ({"location": {"type": "KENDRA", "kendraDocumentLocation": {"uri": "kendra://d"}}}, "kendra://d"),
        ({"location": {"type": "CUSTOM", "customDocumentLocation": {"id": "doc-7"}}}, "doc-7"),
        (
            {
                "location": {"type": "SQL", "sqlLocation": {"query": "SELECT 1"}},
                "metadata": {"x-amz-bedrock-kb-source-uri": "s3://meta"},
            },
            "s3://meta",
        ),
        ({"metadata": {"x-amz-bedrock-kb-source-uri": 5}}, None),
        ({}, None),
    ],
)
def test_sources_from_locations(result, source):
    (passage,) = retrieval.parse_results({"retrievalResults": [{"content": {"text": "t"}, "score": 1, **result}]})
    assert passage.source == source and passage.score == 1.0


def test_parse_results_skips_results_without_text_and_renders_rows():
    passages = retrieval.parse_results(
        {
            "retrievalResults": [
                {"content": {"type": "IMAGE", "byteContent": "..."}},
                {"content": {"type": "TEXT", "text": "  "}},
                {
                    "content": {
                        "type": "ROW",
                        "row": [
                            {"columnName": "sku", "columnValue": "A1", "type": "STRING"},
                            {"columnName": "price", "columnValue": "9", "type": "NUMBER"},
                        ],
                    }
                },
                "garbage",
                {"content": {"type": "TEXT", "text": " kept "}, "score": "high"},
            ]
        }
    )
    assert [(p.text, p.score) for p in passages] == [("sku: A1; price: 9", None), ("kept", None)]
    assert retrieval.parse_results({}) == [] and retrieval.parse_results({"retrievalResults": None}) == []


def test_context_prompt_and_citations():
    passages = [retrieval.Passage("alpha", "s3://a", 0.5), retrieval.Passage("x" * 600, None, None)]
    prompt = retrieval.context_prompt(passages)
    assert prompt == (
        f"{retrieval.INSTRUCTIONS}\n\nSources:\n\n[1] (source: s3://a)\nalpha\n\n[2] (source: unknown)\n{'x' * 600}"
    )
    assert retrieval.context_prompt([]) == retrieval.NO_SOURCES
    cited = retrieval.citations(passages)
    assert cited[0] == {"index": 1, "source": "s3://a", "text": "alpha", "score": 0.5}
    assert cited[1]["text"] == "x" * retrieval.CITATION_TEXT_CHARS + "..." and cited[1]["source"] is None


def test_augment_appends_one_system_prompt():
    request = _request(CONVERSATION)
    augmented = retrieval.augment(
        request, default_passages := retrieval.parse_results({"retrievalResults": default_results()})
    )
    assert augmented.system == (*request.system, retrieval.context_prompt(default_passages))
    assert augmented.messages == request.messages and request.system == ("You are the shop assistant.",)


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "kb says no"}}, "Retrieve")


@pytest.mark.parametrize(
    "exc, status, code, metric",
    [
        (_error("ThrottlingException"), 429, "rate_limit_exceeded", "RetrieveThrottlingException"),
        (_error("ValidationException"), 400, "invalid_request", "RetrieveValidationException"),
        (
            _error("ResourceNotFoundException"),
            502,
            "upstream_knowledge_base_not_found",
            "RetrieveResourceNotFoundException",
        ),
        (_error("DependencyFailedException"), 502, "upstream_error", "RetrieveDependencyFailedException"),
        (ReadTimeoutError(endpoint_url="http://x"), 504, "upstream_timeout", "RetrieveReadTimeoutError"),
    ],
)
def test_retrieve_error_mapping(exc, status, code, metric):
    err = retrieval.map_error(exc, "ABCDEFGHIJ")
    assert (err.status, err.code, err.metric_type) == (status, code, metric)
