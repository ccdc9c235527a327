"""Structured output end to end: ``response_format`` json_schema / json_object through the official OpenAI SDK
(``client.chat.completions.parse`` with a Pydantic model, and streams), the real gateway, and the Bedrock
stand-in, where the format is a forced tool whose input is the answer (botocore ToolChoice.tool /
``any``; ToolSpecification.inputSchema.json).
"""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

from bedrock_standin import Behaviour, ToolUse
from test_gateway_tools import ASK, WEATHER

EVENT = {"name": "Launch", "date": "2027-01-15", "attendees": ["Ana", "Bo"]}
#: ``parse`` only accepts strict function tools (openai lib/_parsing/_completions.py validate_input_tools).
STRICT_WEATHER = {
    "type": "function",
    "function": {
        **WEATHER["function"],
        "strict": True,
        "parameters": {**WEATHER["function"]["parameters"], "additionalProperties": False},
    },
}


class CalendarEvent(pydantic.BaseModel):
    name: str
    date: str
    attendees: list[str]


def test_parse_round_trips_a_pydantic_model(client, standin):
    standin.script(Behaviour(forced_input=EVENT))
    resp = client.chat.completions.parse(
        model="chat-fast", messages=[{"role": "user", "content": "Extract it"}], response_format=CalendarEvent
    )
    message = resp.choices[0].message
    assert message.parsed == CalendarEvent(**EVENT)
    assert json.loads(message.content) == EVENT and not message.tool_calls
    assert resp.choices[0].finish_reason == "stop"  # Converse says tool_use; the caller asked for an answer
    config = standin.requests[-1].body["toolConfig"]
    assert config["toolChoice"] == {"tool": {"name": "CalendarEvent"}}
    (tool,) = config["tools"]
    spec = tool["toolSpec"]
    assert spec["name"] == "CalendarEvent" and spec["description"].startswith("Give your final answer")
    schema = spec["inputSchema"]["json"]  # the schema the SDK sent (strict: additionalProperties false)
    assert schema["type"] == "object" and schema["required"] == ["name", "date", "attendees"]
    assert schema["additionalProperties"] is False


def test_json_object_is_a_forced_open_object_tool(client, standin):
    standin.script(Behaviour(forced_input={"answer": 42}))
    resp = client.chat.completions.create(model="chat-fast", messages=ASK, response_format={"type": "json_object"})
    assert json.loads(resp.choices[0].message.content) == {"answer": 42}
    config = standin.requests[-1].body["toolConfig"]
    assert config["toolChoice"] == {"tool": {"name": "json_object"}}
    assert config["tools"][0]["toolSpec"]["inputSchema"] == {"json": {"type": "object"}}


def test_streamed_structured_output_arrives_as_content_deltas(client, standin):
    standin.script(
        Behaviour(
            tool_uses=[
                ToolUse(
                    "CalendarEvent",
                    EVENT,
                    fragments=['{"name": "Launch", ', '"date": "2027-01-15", ', '"attendees": ["Ana", "Bo"]}'],
                )
            ]
        )
    )
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "CalendarEvent", "strict": True, "schema": CalendarEvent.model_json_schema()},
    }
    chunks = list(client.chat.completions.create(model="chat-fast", messages=ASK, response_format=fmt, stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert [d.content for d in deltas[1:] if d.content] == [
        '{"name": "Launch", ',
        '"date": "2027-01-15", ',
        '"attendees": ["Ana", "Bo"]}',
    ]
    assert not any(d.tool_calls for d in deltas)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_sdk_stream_helper_parses_the_streamed_answer(client, standin):
    standin.script(Behaviour(forced_input=EVENT))
    with client.chat.completions.stream(model="chat-fast", messages=ASK, response_format=CalendarEvent) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.parsed == CalendarEvent(**EVENT)


def test_structured_output_next_to_tools_lets_the_model_call_them(client, standin):
    """With tools the format tool joins them and ``any`` is forced: the model either calls a tool or answers."""
    standin.script(Behaviour(chunks=[], tool_uses=[ToolUse("get_weather", {"city": "Oslo"})]))
    resp = client.chat.completions.parse(
        model="chat-fast", messages=ASK, response_format=CalendarEvent, tools=[STRICT_WEATHER]
    )
    config = standin.requests[-1].body["toolConfig"]
    assert config["toolChoice"] == {"any": {}}
    assert [t["toolSpec"]["name"] for t in config["tools"]] == ["get_weather", "CalendarEvent"]
    assert resp.choices[0].finish_reason == "tool_calls"
    (call,) = resp.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and call.function.parsed_arguments == {"city": "Oslo"}
    assert resp.choices[0].message.parsed is None
    standin.script(Behaviour(tool_uses=[ToolUse("CalendarEvent", EVENT)]))
    answer = client.chat.completions.parse(
        model="chat-fast", messages=ASK, response_format=CalendarEvent, tools=[STRICT_WEATHER]
    )
    assert answer.choices[0].message.parsed == CalendarEvent(**EVENT) and not answer.choices[0].message.tool_calls


def test_required_tool_choice_does_not_offer_the_format_tool(client, standin):
    client.chat.completions.create(
        model="chat-fast",
        messages=ASK,
        tools=[WEATHER],
        tool_choice="required",
        response_format={"type": "json_object"},
    )
    config = standin.requests[-1].body["toolConfig"]
    assert config["toolChoice"] == {"any": {}} and [t["toolSpec"]["name"] for t in config["tools"]] == ["get_weather"]


def test_a_cut_off_answer_raises_the_sdks_length_error(client, standin):
    standin.script(Behaviour(stop_reason="max_tokens", forced_input={"name": "Launch"}))
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model="chat-fast", messages=ASK, response_format=CalendarEvent)


def test_response_format_text_is_the_default(client, standin):
    resp = client.chat.completions.create(model="chat-fast", messages=ASK, response_format={"type": "text"})
    assert resp.choices[0].message.content == "Hello, world!" and "toolConfig" not in standin.requests[-1].body


@pytest.mark.parametrize(
    "fmt, param",
    [
        (
            {"type": "json_schema", "json_schema": {"name": "get_weather", "schema": {"type": "object"}}},
            "response_format",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "bad name", "schema": {"type": "object"}}},
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}},
            "response_format.json_schema.schema",
        ),
        ({"type": "json_schema"}, "response_format.json_schema"),
    ],
)
def test_invalid_response_formats_are_400s(client, standin, fmt, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat-fast", messages=ASK, tools=[WEATHER], response_format=fmt)
    assert info.value.param == param and standin.requests == []


def test_sagemaker_vllm_gets_response_format_as_is(client, sagemaker):
    from sagemaker_standin import Behaviour as SageMakerBehaviour

    sagemaker.script(SageMakerBehaviour(chunks=[json.dumps(EVENT)]))
    resp = client.chat.completions.parse(model="sm-vllm", messages=ASK, response_format=CalendarEvent)
    assert resp.choices[0].message.parsed == CalendarEvent(**EVENT)
    sent = sagemaker.requests[-1].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "CalendarEvent"
    assert sent["json_schema"]["strict"] is True and sent["json_schema"]["schema"]["type"] == "object"


@pytest.mark.parametrize("alias", ["sm-lmi", "sm-tgi", "sm-chat"])
def test_response_format_on_other_containers_is_a_400(client, sagemaker, alias):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=alias, messages=ASK, response_format={"type": "json_object"})
    assert info.value.param == "response_format" and sagemaker.requests == []
