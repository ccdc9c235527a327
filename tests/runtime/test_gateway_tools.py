"""Tool calling end to end: the official OpenAI SDK against the real gateway on 127.0.0.1, Bedrock
replaced at the wire by the stand-in, which speaks Converse's toolConfig / toolUse / toolResult blocks
(JSON and ConverseStream event-stream frames) and rejects what Bedrock rejects.

Shapes: botocore bedrock-runtime 2023-09-30 service-2.json (ToolConfiguration, ToolSpecification with
``description: NonEmptyString``, ToolChoice ``auto | any | tool``, ToolUseBlock, ToolResultBlock,
ContentBlockStart.toolUse, ContentBlockDelta.toolUse.input); the OpenAI side: openai 3.51 types
(ChatCompletionMessageFunctionToolCall, ChoiceDeltaToolCall).
"""

from __future__ import annotations

import json
import time

import openai
import pytest

from bedrock_standin import Behaviour, ToolUse
from test_gateway_http import assert_openai_error, raw

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "",  # empty: never forwarded
        "parameters": {"properties": {"tz": {"type": "string"}}},
    },
}
ASK = [{"role": "user", "content": "Weather in Paris and Oslo?"}]


def tool_config(standin) -> dict:
    return standin.requests[-1].body.get("toolConfig")


# --------------------------------------------------------------------------- requests and answers


def test_tool_call_round_trip_non_streaming(client, standin):
    standin.script(Behaviour(chunks=["Let me check."], tool_uses=[ToolUse("get_weather", {"city": "Paris"})]))
    resp = client.chat.completions.create(model="chat-fast", messages=ASK, tools=[WEATHER, TIME])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    (call,) = choice.message.tool_calls
    assert (call.type, call.function.name) == ("function", "get_weather")
    assert call.id == "tooluse_standin0000"
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # a JSON string, as OpenAI sends it
    assert tool_config(standin) == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather in a city",
                    "inputSchema": {
                        "json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
                    },
                }
            },
            # the empty description is left out (Converse: NonEmptyString), the missing type filled in
            {
                "toolSpec": {
                    "name": "get_time",
                    "inputSchema": {"json": {"type": "object", "properties": {"tz": {"type": "string"}}}},
                }
            },
        ]
    }  # tool_choice auto: no toolChoice, Converse's default


def test_only_tool_calls_means_null_content(client, standin):
    standin.script(Behaviour(chunks=[], tool_uses=[ToolUse("get_weather", {"city": "Oslo"})]))
    resp = client.chat.completions.create(model="chat-fast", messages=ASK, tools=[WEATHER])
    assert resp.choices[0].message.content is None and len(resp.choices[0].message.tool_calls) == 1


def test_streamed_tool_calls_follow_openais_delta_shape(client, standin):
    standin.script(
        Behaviour(
            chunks=["Checking"],
            tool_uses=[
                ToolUse("get_weather", {"city": "Paris"}, fragments=['{"ci', 'ty": "Pa', 'ris"}']),
                ToolUse("get_weather", {"city": "Oslo"}, fragments=['{"city": "Oslo"}']),
            ],
        )
    )
    chunks = list(
        client.chat.completions.create(
            model="chat-fast", messages=ASK, tools=[WEATHER], stream=True, stream_options={"include_usage": True}
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    calls = [d.tool_calls[0] for d in deltas if d.tool_calls]
    # first the call's index, id, type and name with empty arguments, then the argument fragments
    assert [(c.index, c.id, c.type, c.function.name, c.function.arguments) for c in calls] == [
        (0, "tooluse_standin0000", "function", "get_weather", ""),
        (0, None, None, None, '{"ci'),
        (0, None, None, None, 'ty": "Pa'),
        (0, None, None, None, 'ris"}'),
        (1, "tooluse_standin0001", "function", "get_weather", ""),
        (1, None, None, None, '{"city": "Oslo"}'),
    ]
    assert "".join(d.content or "" for d in deltas) == "Checking"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert chunks[-1].usage.total_tokens == 15


def test_streamed_tool_call_is_not_buffered(gateway, standin):
    """The first tool-call delta reaches the client while the model is still writing the arguments."""
    import http.client
    from urllib.parse import urlparse

    standin.script(
        Behaviour(
            chunks=[],
            tool_stall=0.4,
            tool_uses=[ToolUse("get_weather", {"city": "Paris"}, fragments=['{"city"', ': "Paris"}'])],
        )
    )
    u = urlparse(gateway)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    start = time.monotonic()
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps({"model": "chat-fast", "messages": ASK, "tools": [WEATHER], "stream": True}),
    )
    resp = conn.getresponse()
    seen = b""
    while b'"tool_calls"' not in seen:
        seen += resp.read1(65536)
    first_call = time.monotonic() - start
    rest = resp.read()
    total = time.monotonic() - start
    conn.close()
    assert b'"name":"get_weather"' in seen and b"[DONE]" in rest
    assert first_call < 0.35 and total >= 0.8  # two 0.4 s stalls after the call's start


def test_full_tool_loop_with_parallel_calls(client, standin):
    """call -> results -> answer: consecutive tool messages become one user turn of toolResult blocks."""
    standin.script(
        Behaviour(
            chunks=[], tool_uses=[ToolUse("get_weather", {"city": "Paris"}), ToolUse("get_weather", {"city": "Oslo"})]
        )
    )
    first = client.chat.completions.create(model="chat-fast", messages=ASK, tools=[WEATHER])
    calls = first.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Paris", "Oslo"]
    history = [
        *ASK,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "18 C, sunny"},
        {"role": "tool", "tool_call_id": calls[1].id, "content": ""},
    ]
    standin.script(Behaviour(chunks=["Paris is sunny; Oslo did not answer."]))
    final = client.chat.completions.create(model="chat-fast", messages=history, tools=[WEATHER])
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content == "Paris is sunny; Oslo did not answer."
    assert standin.requests[-1].body["messages"] == [
        {"role": "user", "content": [{"text": "Weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "tooluse_standin0000", "name": "get_weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "tooluse_standin0001", "name": "get_weather", "input": {"city": "Oslo"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tooluse_standin0000", "content": [{"text": "18 C, sunny"}]}},
                # Converse rejects blank text blocks: an empty result is sent as a placeholder
                {"toolResult": {"toolUseId": "tooluse_standin0001", "content": [{"text": "(no output)"}]}},
            ],
        },
    ]


def test_user_text_after_tool_results_joins_their_turn(client, standin):
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
        {"role": "user", "content": "And tomorrow?"},
    ]
    client.chat.completions.create(model="chat-fast", messages=history, tools=[WEATHER])
    assert standin.requests[-1].body["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "call_1", "content": [{"text": "rain"}]}}, {"text": "And tomorrow?"}],
    }


def test_call_ids_converse_rejects_are_replaced_consistently(client, standin):
    odd = "call/with spaces#1"  # outside ToolUseId's [a-zA-Z0-9_.:-]+
    history = [
        *ASK,
        {
            "role": "assistant",
            "tool_calls": [{"id": odd, "type": "function", "function": {"name": "get_weather", "arguments": ""}}],
        },
        {"role": "tool", "tool_call_id": odd, "content": "rain"},
    ]
    client.chat.completions.create(model="chat-fast", messages=history, tools=[WEATHER])
    sent = standin.requests[-1].body["messages"]
    use, result = sent[1]["content"][0]["toolUse"], sent[2]["content"][0]["toolResult"]
    assert use["toolUseId"] == result["toolUseId"] != odd and use["toolUseId"].startswith("call_")
    assert use["input"] == {}  # empty arguments are an empty object


@pytest.mark.parametrize(
    "choice, expected",
    [
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "get_time"}}, {"tool": {"name": "get_time"}}),
    ],
)
def test_forcing_tool_choices(client, standin, choice, expected):
    resp = client.chat.completions.create(model="chat-fast", messages=ASK, tools=[WEATHER, TIME], tool_choice=choice)
    assert tool_config(standin)["toolChoice"] == expected
    (call,) = resp.choices[0].message.tool_calls  # the stand-in obeys the forced choice
    assert call.function.name == ("get_time" if isinstance(choice, dict) else "get_weather")


def test_tool_choice_none_withholds_the_tools(client, standin):
    client.chat.completions.create(model="chat-fast", messages=ASK, tools=[WEATHER], tool_choice="none")
    assert "toolConfig" not in standin.requests[-1].body


@pytest.mark.parametrize("tools", [{"tools": [WEATHER], "tool_choice": "none"}, {}])
def test_tool_history_without_offered_tools_is_sent_as_text(client, standin, tools):
    """Converse rejects toolUse/toolResult blocks without a toolConfig and has no "none" choice, so
    when no tools are offered the earlier calls and results go as text."""
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
    ]
    resp = client.chat.completions.create(model="chat-fast", messages=history, **tools)
    assert resp.choices[0].message.content == "Hello, world!"
    body = standin.requests[-1].body
    assert "toolConfig" not in body
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [{"text": '[Called tool get_weather (call id call_1) with arguments {"city":"Oslo"}]'}],
        },
        {"role": "user", "content": [{"text": "[Result of tool call call_1]\nrain"}]},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tool_calls_false_keeps_the_first_call(client, standin, stream):
    standin.script(
        Behaviour(
            chunks=[], tool_uses=[ToolUse("get_weather", {"city": "Paris"}), ToolUse("get_weather", {"city": "Oslo"})]
        )
    )
    resp = client.chat.completions.create(
        model="chat-fast", messages=ASK, tools=[WEATHER], parallel_tool_calls=False, stream=stream
    )
    if stream:
        calls = [d.tool_calls[0] for c in resp if c.choices and (d := c.choices[0].delta).tool_calls]
        assert {c.index for c in calls} == {0} and calls[0].id == "tooluse_standin0000"
        assert "".join(c.function.arguments for c in calls) == '{"city": "Paris"}'
    else:
        (call,) = resp.choices[0].message.tool_calls
        assert json.loads(call.function.arguments) == {"city": "Paris"}


# --------------------------------------------------------------------------- validation

BAD = [
    ({"tools": [{"type": "function", "function": {"name": "get weather"}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function", "function": {"name": "x" * 65}}]}, "tools[0].function.name"),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
        "tools[0].function.parameters",
    ),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]}, "tools[0].function.parameters"),
    ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name"),
    ({"tools": [{"type": "custom", "custom": {"name": "f"}}]}, "tools[0].type"),
    (
        {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
        "tool_choice.function.name",
    ),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [WEATHER], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ({"messages": [*ASK, {"role": "tool", "tool_call_id": "call_9", "content": "x"}]}, "messages[1].tool_call_id"),
    (
        {
            "messages": [
                *ASK,
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "user", "content": "hello?"},
            ]
        },
        "messages[2]",
    ),
    (
        {
            "messages": [
                *ASK,
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
            ]
        },
        "messages",
    ),
    (
        {
            "messages": [
                *ASK,
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "x"},
            ]
        },
        "messages[1].tool_calls[0].function.arguments",
    ),
    ({"messages": [*ASK, {"role": "assistant", "content": "x", "refusal": "I won't"}]}, "messages[1].refusal"),
]


@pytest.mark.parametrize("fields, param", BAD)
def test_invalid_tool_requests_are_clear_400s(gateway, standin, fields, param):
    body = {"model": "chat-fast", "messages": ASK, **fields}
    status, _, data = raw(gateway, "POST", "/v1/chat/completions", json.dumps(body).encode())
    assert status == 400
    assert_openai_error(data, etype="invalid_request_error", param=param)
    assert standin.requests == []


def test_unanswered_call_names_the_missing_ids(client, standin):
    history = [
        *ASK,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "x"},
    ]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat-fast", messages=history)
    assert "did not have response messages: c2" in info.value.message


def test_bedrock_tool_rejection_is_a_400_with_bedrocks_words(client, standin):
    # e.g. a model without toolChoice.tool support (botocore: "Only supported by Anthropic Claude 3 and Amazon Nova")
    message = "This model doesn't support the toolConfig.toolChoice.tool field. Remove toolConfig.toolChoice.tool and try again."
    standin.script(Behaviour(error="ValidationException", error_message=message))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="chat-small",
            messages=ASK,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
    assert info.value.body["code"] == "invalid_request" and message in info.value.message


def test_the_standin_rejects_what_bedrock_rejects():
    """The stand-in's own checks (so that the gateway tests above prove something)."""
    from bedrock_standin import Rejected, validate_converse

    use = {"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}
    config = {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}
    cases = [
        (
            {
                "messages": [
                    {"role": "user", "content": [{"text": "q"}]},
                    {"role": "assistant", "content": [use]},
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "r"}]}}]},
                ]
            },
            "toolConfig field must be defined",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"text": "q"}]},
                    {"role": "assistant", "content": [use]},
                    {"role": "user", "content": [{"text": "r"}]},
                ],
                "toolConfig": config,
            },
            "`tool_use` ids were found without `tool_result` blocks",
        ),
        ({"messages": [{"role": "user", "content": [{"text": " "}]}]}, "is blank"),
        (
            {"messages": [{"role": "user", "content": [{"text": "q"}]}, {"role": "user", "content": [{"text": "q"}]}]},
            "must alternate",
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"text": "q"}]}],
                "toolConfig": {"tools": [{"toolSpec": {"name": "f", "description": "", "inputSchema": {"json": {}}}}]},
            },
            "description",
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"text": "q"}]}],
                "toolConfig": {**config, "toolChoice": {"tool": {"name": "g"}}},
            },
            "not found",
        ),
    ]
    for body, message in cases:
        with pytest.raises(Rejected, match=message):
            validate_converse(body)


# --------------------------------------------------------------------------- SageMaker (OpenAI-format containers)


def test_sagemaker_vllm_gets_the_tools_and_answers_with_tool_calls(client, sagemaker):
    from sagemaker_standin import Behaviour as SageMakerBehaviour

    sagemaker.script(
        SageMakerBehaviour(chunks=[], tool_calls=[{"name": "get_weather", "arguments": '{"city": "Oslo"}'}])
    )
    resp = client.chat.completions.create(
        model="sm-vllm", messages=ASK, tools=[WEATHER, TIME], tool_choice="auto", parallel_tool_calls=False
    )
    (call,) = resp.choices[0].message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        "chatcmpl-tool-standin0",
        "get_weather",
        '{"city": "Oslo"}',
    )
    assert resp.choices[0].finish_reason == "tool_calls" and resp.choices[0].message.content is None
    body = sagemaker.requests[-1].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER["function"]["parameters"],
                "description": "Current weather in a city",
            },
        },
        {
            "type": "function",
            "function": {
                "name": "get_time",
                "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
            },
        },
    ]
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("auto", False)


def test_sagemaker_vllm_streams_tool_call_deltas(client, sagemaker):
    from sagemaker_standin import Behaviour as SageMakerBehaviour

    arguments = '{"city": "Paris", "unit": "celsius"}'
    sagemaker.script(
        SageMakerBehaviour(
            chunks=[],
            part_size=7,  # parts split lines anywhere
            tool_calls=[{"name": "get_weather", "arguments": arguments}],
        )
    )
    chunks = list(client.chat.completions.create(model="sm-vllm", messages=ASK, tools=[WEATHER], stream=True))
    calls = [d.tool_calls[0] for c in chunks if c.choices and (d := c.choices[0].delta).tool_calls]
    assert (calls[0].index, calls[0].id, calls[0].function.name) == (0, "chatcmpl-tool-standin0", "get_weather")
    assert "".join(c.function.arguments or "" for c in calls) == arguments
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_sagemaker_tool_history_is_forwarded_in_openai_shape(client, sagemaker):
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
    ]
    client.chat.completions.create(model="sm-vllm", messages=history, tools=[WEATHER])
    assert sagemaker.requests[-1].body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
    ]


def test_lmi_eos_token_next_to_tool_calls_is_tool_calls(client, sagemaker):
    """LMI's rolling batch reports finish_reason eos_token for an answer made of tool calls
    (djl-serving serving/docs/lmi/user_guides/tool_calling.md sample output)."""
    from sagemaker_standin import Behaviour as SageMakerBehaviour

    sagemaker.script(SageMakerBehaviour(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Oslo"}'}]))
    resp = client.chat.completions.create(model="sm-lmi", messages=ASK, tools=[WEATHER])
    assert resp.choices[0].finish_reason == "tool_calls"
    assert resp.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_vllm_without_a_tool_parser_is_a_400_with_its_message(client, sagemaker):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="sm-vllm-plain", messages=ASK, tools=[WEATHER])
    assert "--enable-auto-tool-choice" in info.value.message


@pytest.mark.parametrize("alias", ["sm-tgi", "sm-chat"])  # TGI; unknown container kind
def test_tools_on_containers_the_gateway_does_not_forward_to_are_400s(client, sagemaker, alias):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=alias, messages=ASK, tools=[WEATHER])
    assert info.value.param == "tools" and "vLLM, LMI" in info.value.message
    assert sagemaker.requests == []
    # tool_choice none: the tools may not be used, so there is nothing to forward and nothing to refuse
    client.chat.completions.create(model=alias, messages=ASK, tools=[WEATHER], tool_choice="none")
    assert "tools" not in sagemaker.requests[-1].body


def test_every_accepted_tool_conversation_is_a_converse_call_bedrock_accepts():
    """Combinations of tools, tool_choice, response_format, reasoning and tool history: whatever the gateway
    accepts, the Bedrock stand-in's validation (Bedrock's and Anthropic's rules) accepts too."""
    import base64
    import random

    import bedrock
    import openai_compat
    from bedrock_standin import validate_converse
    from config import parse_config
    from errors import GatewayError
    from gateway_harness import TEST_CONFIG

    config = parse_config(TEST_CONFIG)
    plain = {"type": "function", "function": {"name": "g", "description": ""}}
    calls = [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
        {"id": "c/2", "type": "function", "function": {"name": "g", "arguments": ""}},
    ]
    histories = [
        [],
        [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}],
        [
            {"role": "assistant", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "c1", "content": ""},
            {"role": "tool", "tool_call_id": "c/2", "content": "z"},
        ],
        [
            {"role": "assistant", "content": "t", "tool_calls": calls[:1]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
            {"role": "user", "content": "more"},
        ],
        [
            {"role": "assistant", "tool_calls": calls[:1]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
            {"role": "assistant", "content": "done"},
            {"role": "user", "content": "again"},
        ],
    ]
    rng = random.Random(11)
    accepted = 0
    for _ in range(600):
        body = {
            "model": rng.choice(["chat-fast", "chat-think"]),
            "messages": [{"role": "system", "content": "s"}, *ASK, *rng.choice(histories)],
            "tools": rng.choice([None, [], [WEATHER], [WEATHER, plain]]),
            "tool_choice": rng.choice(
                [None, "auto", "none", "required", {"type": "function", "function": {"name": "get_weather"}}]
            ),
            "response_format": rng.choice(
                [
                    None,
                    {"type": "json_object"},
                    {"type": "json_schema", "json_schema": {"name": "R", "schema": {"type": "object"}}},
                ]
            ),
            "reasoning_effort": rng.choice([None, "low", "high"]),
            "parallel_tool_calls": rng.choice([None, False]),
        }
        try:
            params = bedrock.plan(openai_compat.parse_chat_request(body, config)).params
        except GatewayError as err:
            assert err.status == 400
            continue
        validate_converse(json.loads(json.dumps(params, default=lambda b: base64.b64encode(b).decode())))
        accepted += 1
    assert accepted > 150  # the mix exercises the accepted paths, not only the rejections
