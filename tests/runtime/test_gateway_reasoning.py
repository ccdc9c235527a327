"""Reasoning end to end: ``reasoning_effort`` on an alias configured with ``reasoning`` becomes Anthropic's
extended-thinking budget (Converse ``additionalModelRequestFields.thinking = {type: enabled, budget_tokens}``)
and the model's ``reasoningContent`` comes back as ``reasoning_content`` (stream deltas too), never in
``content``.  The Bedrock stand-in applies Anthropic's thinking rules (Bedrock User Guide, "Extended
thinking": budget >= 1024 and below max_tokens; "Thinking isn't compatible with temperature, top_p, or top_k
modifications as well as forced tool use"; with tool use the final assistant turn must start with a
thinking block).
"""

from __future__ import annotations

import openai
import pytest

from bedrock_standin import Behaviour, ToolUse
from test_gateway_tools import ASK, WEATHER

THOUGHTS = ["The user wants ", "the weather."]


def thinking(standin) -> dict | None:
    return (standin.requests[-1].body.get("additionalModelRequestFields") or {}).get("thinking")


def test_reasoning_content_is_separate_from_the_answer(client, standin):
    standin.script(Behaviour(reasoning=THOUGHTS, chunks=["It is sunny."]))
    resp = client.chat.completions.create(model="chat-think", messages=ASK, reasoning_effort="low")
    message = resp.choices[0].message
    assert message.content == "It is sunny."
    assert message.model_extra["reasoning_content"] == "The user wants the weather."
    assert thinking(standin) == {"type": "enabled", "budget_tokens": 2048}
    # no max_tokens given: the alias cap, which includes the reasoning (as OpenAI's max_completion_tokens does)
    assert standin.requests[-1].body["inferenceConfig"]["maxTokens"] == 8192


def test_streamed_reasoning_deltas_come_before_content(client, standin):
    standin.script(Behaviour(reasoning=THOUGHTS, chunks=["It is ", "sunny."]))
    chunks = list(
        client.chat.completions.create(model="chat-think", messages=ASK, reasoning_effort="medium", stream=True)
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = [d.model_extra.get("reasoning_content") for d in deltas if d.model_extra.get("reasoning_content")]
    assert reasoning == THOUGHTS
    assert "".join(d.content or "" for d in deltas) == "It is sunny."
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    last_reasoning = max(i for i, d in enumerate(deltas) if d.model_extra.get("reasoning_content"))
    assert last_reasoning < first_content
    assert thinking(standin) == {"type": "enabled", "budget_tokens": 4096}  # medium 8192, capped at half of 8192


@pytest.mark.parametrize(
    "effort, max_tokens, budget",
    [
        ("minimal", 2048, 1024),
        ("low", 3000, 1500),
        ("high", 8192, 4096),
        ("high", 100000, 4096),  # cap 8192
        ("max", 8000, 4000),
    ],
)
def test_budget_per_effort_is_at_most_half_of_max_tokens(client, standin, effort, max_tokens, budget):
    client.chat.completions.create(
        model="chat-think", messages=ASK, reasoning_effort=effort, max_completion_tokens=max_tokens
    )
    assert thinking(standin)["budget_tokens"] == budget


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"max_tokens": 2047}, "max_tokens"),  # budget would be below Anthropic's 1024
        ({"temperature": 0.2}, "temperature"),
        ({"top_p": 0.5}, "top_p"),
        ({"tools": [WEATHER], "tool_choice": "required"}, "tool_choice"),
        ({"response_format": {"type": "json_object"}}, "response_format"),  # a forced tool on Bedrock
    ],
)
def test_combinations_anthropic_rejects_are_400s_before_the_call(client, standin, fields, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat-think", messages=ASK, reasoning_effort="low", **fields)
    assert info.value.param == param and standin.requests == []


def test_temperature_one_and_high_top_p_are_fine(client, standin):
    client.chat.completions.create(model="chat-think", messages=ASK, reasoning_effort="low", temperature=1, top_p=0.95)
    assert thinking(standin) is not None


def test_thinking_is_left_off_inside_a_tool_loop(client, standin):
    """Anthropic needs the signed thinking block of an assistant turn with tool use; OpenAI clients do not
    send it back, so the continuation of a tool loop runs without thinking (the stand-in rejects otherwise)."""
    standin.script(Behaviour(reasoning=THOUGHTS, chunks=[], tool_uses=[ToolUse("get_weather", {"city": "Oslo"})]))
    first = client.chat.completions.create(model="chat-think", messages=ASK, tools=[WEATHER], reasoning_effort="low")
    assert thinking(standin) is not None and first.choices[0].message.model_extra["reasoning_content"]
    call = first.choices[0].message.tool_calls[0]
    history = [
        *ASK,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "rain"},
    ]
    resp = client.chat.completions.create(model="chat-think", messages=history, tools=[WEATHER], reasoning_effort="low")
    assert resp.choices[0].message.content == "Hello, world!" and thinking(standin) is None


def test_reasoning_content_echoed_back_in_history_is_ignored(client, standin):
    """Clients append the whole assistant message to the history, reasoning_content included."""
    history = [
        *ASK,
        {"role": "assistant", "content": "Sunny.", "reasoning_content": "thought"},
        {"role": "user", "content": "Thanks"},
    ]
    client.chat.completions.create(model="chat-think", messages=history)
    assert standin.requests[-1].body["messages"][1] == {"role": "assistant", "content": [{"text": "Sunny."}]}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="chat-think", messages=[*ASK, {**history[1], "reasoning_content": 7}, history[2]]
        )
    assert info.value.param == "messages[1].reasoning_content"


def test_reasoning_effort_needs_a_reasoning_alias(client, standin):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat-fast", messages=ASK, reasoning_effort="high")
    assert info.value.code == "unsupported_parameter" and info.value.param == "reasoning_effort"


@pytest.mark.parametrize("alias", ["chat-fast", "chat-think", "sm-vllm"])
def test_reasoning_effort_none_is_accepted_everywhere(client, standin, sagemaker, alias):
    client.chat.completions.create(model=alias, messages=ASK, reasoning_effort="none")
    if alias != "sm-vllm":
        assert thinking(standin) is None
        assert standin.requests[-1].body["inferenceConfig"]["maxTokens"] == 1024  # the default, not the cap


def test_the_standin_applies_anthropics_thinking_rules():
    from bedrock_standin import Rejected, validate_converse

    base = {"messages": [{"role": "user", "content": [{"text": "q"}]}], "inferenceConfig": {"maxTokens": 4096}}

    def with_thinking(budget: int = 2048, **inference) -> dict:
        return {
            **base,
            "inferenceConfig": {"maxTokens": 4096, **inference},
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": budget}},
        }

    assert validate_converse(with_thinking())[2] is True
    for body, message in [
        (with_thinking(1000), "greater than or equal to 1024"),
        (with_thinking(4096), "must be greater than `thinking.budget_tokens`"),
        (with_thinking(temperature=0.5), "temperature"),
        (with_thinking(topP=0.5), "top_p"),
    ]:
        with pytest.raises(Rejected, match=message):
            validate_converse(body)


def test_sagemaker_reasoning_content_passes_through(client, sagemaker):
    from sagemaker_standin import Behaviour as SageMakerBehaviour

    sagemaker.script(SageMakerBehaviour(reasoning="Let me think.", chunks=["42"]))
    resp = client.chat.completions.create(model="sm-vllm", messages=ASK)
    assert resp.choices[0].message.model_extra["reasoning_content"] == "Let me think."
    assert resp.choices[0].message.content == "42"
    sagemaker.script(SageMakerBehaviour(reasoning="Let me think.", chunks=["42"]))
    deltas = [
        c.choices[0].delta
        for c in client.chat.completions.create(model="sm-vllm", messages=ASK, stream=True)
        if c.choices
    ]
    assert [d.model_extra.get("reasoning_content") for d in deltas if d.model_extra.get("reasoning_content")] == [
        "Let me think."
    ]
    assert "".join(d.content or "" for d in deltas) == "42"
