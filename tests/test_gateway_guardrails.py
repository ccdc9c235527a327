"""Gateway guardrails, prompt caching and fallback on the construct side: the upstream rules (negative and valid
cases, each with its source), content-hashed guardrail versions, the IAM enforcement and GATEWAY_CONFIG."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    ContentFilter,
    ContentFilterType,
    DeniedTopic,
    FilterStrength,
    GatewayGuardrail,
    GuardrailPolicy,
    PiiAction,
    PiiEntity,
    PropsValidationError,
)
from cdk_llm_serving.bedrock_gateway import rules
from harness import expect_rule, flat_statements, lambda_functions, resources

HAIKU_US = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA_LITE = "amazon.nova-lite-v1:0"
LLAMA = "meta.llama3-8b-instruct-v1:0"
EXISTING_ARN = "arn:aws:bedrock:us-east-1:123456789012:guardrail/abcd1234efgh"
POLICY = GuardrailPolicy(
    content_filters=[
        ContentFilter(type=ContentFilterType.HATE),
        ContentFilter(type=ContentFilterType.PROMPT_ATTACK, output_strength=FilterStrength.NONE),
    ],
    pii_entities=[PiiEntity(type="EMAIL"), PiiEntity(type="US_SOCIAL_SECURITY_NUMBER", action=PiiAction.BLOCK)],
    denied_topics=[DeniedTopic(name="Investment advice", definition="Recommendations to buy or sell securities.")],
    blocked_words=["frobnicate"],
    managed_profanity=True,
)


def _gateway(models: list[BedrockModelAlias], app: cdk.App | None = None) -> BedrockGatewayApi:
    stack = cdk.Stack(app or cdk.App(), "S", env=cdk.Environment(account="123456789012", region="us-east-1"))
    return BedrockGatewayApi(stack, "Gw", models=models)


def _template(gw: BedrockGatewayApi) -> dict[str, Any]:
    return Template.from_stack(cdk.Stack.of(gw)).to_json()


def _guarded(policy: GuardrailPolicy = POLICY, **kwargs: Any) -> list[BedrockModelAlias]:
    g = GatewayGuardrail.create(name="Safety", policy=policy)
    return [
        BedrockModelAlias(alias="chat", model_id=HAIKU_US, guardrail=g, **kwargs),
        BedrockModelAlias(alias="lite", model_id=NOVA_LITE, guardrail=g),
    ]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = [
        r["Properties"]
        for r in resources(template, "AWS::IAM::ManagedPolicy").values()
        if "allowlist" in r["Properties"]["Description"]
    ]
    return flat_statements(policy["PolicyDocument"]["Statement"])


def _policy_problems(policy: GuardrailPolicy) -> list[str]:
    return rules.problems(rules.GuardrailPolicySubject("Safety", policy))


# --------------------------------------------------------------------------------------------------
# Upstream rules


def test_guardrail_messaging_limits() -> None:
    # botocore bedrock 2023-04-20 GuardrailBlockedMessaging {min 1, max 500}; GuardrailDescription {min 1, max 200}.
    expect_rule("GATEWAY.GUARDRAIL_MESSAGING", _policy_problems(GuardrailPolicy(blocked_input_messaging="x" * 501)))
    expect_rule("GATEWAY.GUARDRAIL_MESSAGING", _policy_problems(GuardrailPolicy(blocked_outputs_messaging="")))
    expect_rule("GATEWAY.GUARDRAIL_MESSAGING", _policy_problems(GuardrailPolicy(description="d" * 201)))
    assert _policy_problems(POLICY) == []


def test_guardrail_content_filter_types_are_unique() -> None:
    # GuardrailContentFiltersConfig {min 1, max 6}: one filter per GuardrailContentFilterType.
    twice = GuardrailPolicy(
        content_filters=[ContentFilter(type=ContentFilterType.HATE), ContentFilter(type=ContentFilterType.HATE)]
    )
    assert "HATE" in expect_rule("GATEWAY.GUARDRAIL_CONTENT_FILTERS", _policy_problems(twice))


def test_guardrail_topic_limits() -> None:
    # GuardrailTopicName {1-100, [0-9a-zA-Z-_ !?.]+}, GuardrailTopicDefinition {1-200}, GuardrailTopicExamples {max 5},
    # GuardrailTopicExample {1-100}, GuardrailTopicsConfig {max 30}.
    bad_name = DeniedTopic(name="Money/Finance", definition="ok")
    assert "letters, digits" in expect_rule(
        "GATEWAY.GUARDRAIL_TOPICS", _policy_problems(GuardrailPolicy(denied_topics=[bad_name]))
    )
    long_def = DeniedTopic(name="Finance", definition="x" * 201, examples=["e"] * 6)
    found = _policy_problems(GuardrailPolicy(denied_topics=[long_def]))
    assert len([p for p in found if p.startswith("[GATEWAY.GUARDRAIL_TOPICS]")]) == 2
    many = GuardrailPolicy(denied_topics=[DeniedTopic(name=f"T{i}", definition="d") for i in range(31)])
    expect_rule("GATEWAY.GUARDRAIL_TOPICS", _policy_problems(many))


def test_guardrail_pii_types_are_bedrock_types() -> None:
    # botocore bedrock 2023-04-20 GuardrailPiiEntityType enum ("EMAIL_ADDRESS" is not one: it is "EMAIL").
    wrong = GuardrailPolicy(pii_entities=[PiiEntity(type="EMAIL_ADDRESS")])
    assert "EMAIL_ADDRESS" in expect_rule("GATEWAY.GUARDRAIL_PII_TYPES", _policy_problems(wrong))
    twice = GuardrailPolicy(pii_entities=[PiiEntity(type="PHONE"), PiiEntity(type="PHONE", action=PiiAction.BLOCK)])
    expect_rule("GATEWAY.GUARDRAIL_PII_TYPES", _policy_problems(twice))


def test_guardrail_word_limits() -> None:
    # GuardrailWordConfigTextString {min 1, max 100}; GuardrailWordsConfig {max 10000}.
    expect_rule("GATEWAY.GUARDRAIL_WORDS", _policy_problems(GuardrailPolicy(blocked_words=["w" * 101])))
    expect_rule("GATEWAY.GUARDRAIL_WORDS", _policy_problems(GuardrailPolicy(blocked_words=["w"] * 10_001)))


def test_guardrail_rules_run_when_the_gateway_is_built() -> None:
    bad = GuardrailPolicy(pii_entities=[PiiEntity(type="SSN")])
    expect_rule("GATEWAY.GUARDRAIL_PII_TYPES", lambda: _gateway(_guarded(bad)))


def test_prompt_caching_needs_a_caching_model() -> None:
    # Bedrock User Guide 'Prompt caching' supported models (data/prompt_caching.json); cachePoint to another model
    # fails the request (agentgateway PR #2751).
    alias = BedrockModelAlias(alias="llama", model_id=LLAMA, prompt_caching=True)
    assert LLAMA in expect_rule("GATEWAY.PROMPT_CACHING_MODEL", lambda: _gateway([alias]))
    # Valid: Claude behind a US profile, and Nova Lite directly.
    _gateway(
        [
            BedrockModelAlias(alias="a", model_id=HAIKU_US, prompt_caching=True),
            BedrockModelAlias(alias="b", model_id=NOVA_LITE, prompt_caching=True),
        ]
    )


# --------------------------------------------------------------------------------------------------
# Guardrail resources and versions


def _bedrock_ids(template: dict[str, Any], rtype: str) -> list[str]:
    return sorted(resources(template, rtype))


def test_guardrail_and_version_are_created_from_typed_props() -> None:
    t = _template(_gateway(_guarded()))
    ((gid, guardrail),) = resources(t, "AWS::Bedrock::Guardrail").items()
    props = guardrail["Properties"]
    assert props["ContentPolicyConfig"]["FiltersConfig"][1] == {
        "Type": "PROMPT_ATTACK",
        "InputStrength": "HIGH",
        "OutputStrength": "NONE",
    }
    assert props["SensitiveInformationPolicyConfig"]["PiiEntitiesConfig"] == [
        {"Type": "EMAIL", "Action": "ANONYMIZE"},
        {"Type": "US_SOCIAL_SECURITY_NUMBER", "Action": "BLOCK"},
    ]
    assert props["TopicPolicyConfig"]["TopicsConfig"][0]["Type"] == "DENY"
    assert props["WordPolicyConfig"] == {
        "WordsConfig": [{"Text": "frobnicate"}],
        "ManagedWordListsConfig": [{"Type": "PROFANITY"}],
    }
    assert len(props["Name"]) <= 50
    ((_, version),) = resources(t, "AWS::Bedrock::GuardrailVersion").items()
    assert version["Properties"]["GuardrailIdentifier"] == {"Fn::GetAtt": [gid, "GuardrailId"]}


def test_unchanged_policy_keeps_logical_ids_and_a_change_creates_a_new_version() -> None:
    first = _template(_gateway(_guarded()))
    again = _template(_gateway(_guarded()))
    changed = _template(_gateway(_guarded(GuardrailPolicy(**{**POLICY.__dict__, "blocked_words": ["other"]}))))
    assert _bedrock_ids(first, "AWS::Bedrock::GuardrailVersion") == _bedrock_ids(
        again, "AWS::Bedrock::GuardrailVersion"
    )
    assert _bedrock_ids(first, "AWS::Bedrock::Guardrail") == _bedrock_ids(changed, "AWS::Bedrock::Guardrail")
    old, new = (
        _bedrock_ids(first, "AWS::Bedrock::GuardrailVersion"),
        _bedrock_ids(changed, "AWS::Bedrock::GuardrailVersion"),
    )
    assert old != new  # versions are immutable: a new policy is published as a new version
    assert (
        first["Resources"][old[0]]["Properties"]["Description"]
        != changed["Resources"][new[0]]["Properties"]["Description"]
    )


def test_aliases_sharing_a_guardrail_create_one() -> None:
    t = _template(_gateway(_guarded()))
    assert len(resources(t, "AWS::Bedrock::Guardrail")) == 1 == len(resources(t, "AWS::Bedrock::GuardrailVersion"))


def test_runtime_config_names_the_guardrail_version() -> None:
    gw = _gateway(_guarded())
    t = _template(gw)
    env = next(iter(lambda_functions(t).values()))["Properties"]["Environment"]["Variables"]["GATEWAY_CONFIG"]
    parts = env["Fn::Join"][1]
    version_id = _bedrock_ids(t, "AWS::Bedrock::GuardrailVersion")[0]
    assert {"Fn::GetAtt": [version_id, "Version"]} in parts
    assert any(isinstance(p, dict) and p.get("Fn::GetAtt", [None, None])[1] == "GuardrailArn" for p in parts)
    assert '"streamProcessingMode":"sync","trace":"disabled"' in "".join(p for p in parts if isinstance(p, str))


# --------------------------------------------------------------------------------------------------
# IAM enforcement (bedrock:GuardrailIdentifier)


def test_guarded_models_are_invocable_only_with_the_guardrail() -> None:
    t = _template(_gateway(_guarded()))
    statements = _statements(t)
    guardrail_id = _bedrock_ids(t, "AWS::Bedrock::Guardrail")[0]
    version_id = _bedrock_ids(t, "AWS::Bedrock::GuardrailVersion")[0]
    value = {
        "Fn::Join": ["", [{"Fn::GetAtt": [guardrail_id, "GuardrailArn"]}, ":", {"Fn::GetAtt": [version_id, "Version"]}]]
    }
    invokes = [s for s in statements if s["Action"].startswith("bedrock:InvokeModel")]
    allows = [s for s in invokes if s["Effect"] == "Allow"]
    denies = [s for s in invokes if s["Effect"] == "Deny"]
    assert allows and all(
        s["Condition"]["StringEquals"]["bedrock:GuardrailIdentifier"] in (value, [value]) for s in allows
    )
    # Every allowed model resource is also denied without the guardrail (explicit deny, guardrails-permissions-id).
    assert {json.dumps(s["Resource"]) for s in allows} == {json.dumps(s["Resource"]) for s in denies}
    assert all(s["Condition"]["StringNotEquals"]["bedrock:GuardrailIdentifier"] in (value, [value]) for s in denies)
    (apply,) = [s for s in statements if s["Action"] == "bedrock:ApplyGuardrail"]
    assert apply["Resource"] == {"Fn::GetAtt": [guardrail_id, "GuardrailArn"]}


def test_an_existing_guardrail_is_pinned_by_arn_and_version() -> None:
    g = GatewayGuardrail.existing(name="Central", guardrail_arn=EXISTING_ARN, version="4")
    t = _template(_gateway([BedrockModelAlias(alias="chat", model_id=HAIKU_US, guardrail=g)]))
    assert not resources(t, "AWS::Bedrock::Guardrail")
    conditions = [s["Condition"] for s in _statements(t) if s["Action"] == "bedrock:InvokeModel"]
    assert all(f"{EXISTING_ARN}:4" in json.dumps(c.get("StringEquals", c.get("StringNotEquals"))) for c in conditions)


def test_unguarded_aliases_keep_unconditioned_grants() -> None:
    t = _template(_gateway([BedrockModelAlias(alias="chat", model_id=HAIKU_US)]))
    assert not any("GuardrailIdentifier" in json.dumps(s) for s in _statements(t))


# --------------------------------------------------------------------------------------------------
# Plain checks


@pytest.mark.parametrize(
    "models, fragment",
    [
        (
            [
                BedrockModelAlias(
                    alias="a",
                    model_id=HAIKU_US,
                    guardrail=GatewayGuardrail.existing(name="G", guardrail_arn=EXISTING_ARN, version="DRAFT"),
                )
            ],
            "guardrail.version must be a published version",
        ),
        (
            [
                BedrockModelAlias(
                    alias="a",
                    model_id=HAIKU_US,
                    guardrail=GatewayGuardrail.existing(name="G", guardrail_arn="guardrail/x", version="1"),
                )
            ],
            "guardrail.guardrail_arn must look like",
        ),
        ([BedrockModelAlias(alias="a", model_id=HAIKU_US, fallback=["nope"])], "fallback 'nope' is not a chat alias"),
        ([BedrockModelAlias(alias="a", model_id=HAIKU_US, fallback=["a"])], "fallback cannot name the alias itself"),
        (
            [
                BedrockModelAlias(
                    alias="a",
                    model_id=HAIKU_US,
                    guardrail=GatewayGuardrail.create(name="G", policy=POLICY),
                    fallback=["b"],
                ),
                BedrockModelAlias(alias="b", model_id=NOVA_LITE),
            ],
            "would bypass 'a''s guardrail",
        ),
        (
            [
                BedrockModelAlias(
                    alias="a", model_id=HAIKU_US, guardrail=GatewayGuardrail.create(name="G", policy=POLICY)
                ),
                BedrockModelAlias(alias="b", model_id="global.anthropic.claude-haiku-4-5-20251001-v1:0"),
            ],
            "is also served by guarded alias 'a'",
        ),
        (
            [
                BedrockModelAlias(
                    alias="a", model_id=HAIKU_US, guardrail=GatewayGuardrail.create(name="G", policy=POLICY)
                ),
                BedrockModelAlias(
                    alias="b",
                    model_id=NOVA_LITE,
                    guardrail=GatewayGuardrail.create(name="G", policy=GuardrailPolicy(blocked_words=["x"])),
                ),
            ],
            "guardrail name 'G' is used for two different guardrails",
        ),
    ],
)
def test_invalid_governance_settings_fail_synth(models: list[BedrockModelAlias], fragment: str) -> None:
    with pytest.raises(PropsValidationError) as info:
        _gateway(models)
    assert any(fragment in p for p in info.value.problems), info.value.problems


def test_fallback_to_another_alias_is_rendered() -> None:
    gw = _gateway(
        [
            BedrockModelAlias(alias="a", model_id=HAIKU_US, fallback=["b"]),
            BedrockModelAlias(alias="b", model_id=NOVA_LITE),
        ]
    )
    env = next(iter(lambda_functions(_template(gw)).values()))["Properties"]["Environment"]["Variables"][
        "GATEWAY_CONFIG"
    ]
    assert '"fallback":["b"]' in json.dumps(env).replace("\\", "")


# --------------------------------------------------------------------------------------------------
# Application inference profiles


def _profiled(**options: Any) -> BedrockGatewayApi:
    from cdk_llm_serving import ApplicationInferenceProfile

    return _gateway(
        [
            BedrockModelAlias(
                alias="chat-fast",
                model_id=HAIKU_US,
                application_inference_profile=ApplicationInferenceProfile(**{"tags": {"team": "search"}, **options}),
            ),
            BedrockModelAlias(alias="lite", model_id=NOVA_LITE),
        ]
    )


def test_inference_profile_tag_rules() -> None:
    # botocore bedrock 2023-04-20 TagList {max 200}, TagKey {1-128, [a-zA-Z0-9\s._:/=+@-]*}; 'aws:' is reserved.
    expect_rule("GATEWAY.INFERENCE_PROFILE_TAGS", lambda: _profiled(tags={"aws:team": "x"}))
    expect_rule("GATEWAY.INFERENCE_PROFILE_TAGS", lambda: _profiled(tags={"team": "a,b"}))
    expect_rule("GATEWAY.INFERENCE_PROFILE_TAGS", lambda: _profiled(tags={}))
    expect_rule("GATEWAY.INFERENCE_PROFILE_TAGS", lambda: _profiled(tags={f"k{i}": "v" for i in range(201)}))


def test_inference_profile_description_rule() -> None:
    # botocore bedrock 2023-04-20 InferenceProfileDescription {1-200, ([0-9a-zA-Z:.][ _-]?)+}: no commas.
    expect_rule("GATEWAY.INFERENCE_PROFILE_DESCRIPTION", lambda: _profiled(description="Search team, prod"))
    _profiled(description="Search team prod")


def test_alias_routes_through_its_tagged_profile() -> None:
    t = _template(_profiled())
    ((pid, profile),) = resources(t, "AWS::Bedrock::ApplicationInferenceProfile").items()
    props = profile["Properties"]
    assert props["Tags"] == [{"Key": "team", "Value": "search"}]
    copy_from = json.dumps(props["ModelSource"]["CopyFrom"])
    assert f"inference-profile/{HAIKU_US}" in copy_from  # copied from the system (cross-Region) profile
    assert len(props["InferenceProfileName"]) <= 64
    env = next(iter(lambda_functions(t).values()))["Properties"]["Environment"]["Variables"]["GATEWAY_CONFIG"]
    rendered = json.dumps(env)
    assert (
        "application-inference-profile/" in rendered
        and json.dumps({"Fn::GetAtt": [pid, "InferenceProfileId"]}) in rendered
    )
    assert f'\\"modelId\\":\\"{NOVA_LITE}\\"' in rendered  # the other alias is unchanged


def test_profile_iam_covers_the_profile_and_the_models_it_routes_to() -> None:
    t = _template(_profiled())
    pid = next(iter(resources(t, "AWS::Bedrock::ApplicationInferenceProfile")))
    statements = _statements(t)
    profile_grants = [s for s in statements if "application-inference-profile/" in json.dumps(s["Resource"])]
    assert {s["Action"] for s in profile_grants} == {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}
    assert all(pid in json.dumps(s["Resource"]) for s in profile_grants)
    routed = [s for s in statements if ":bedrock:*::foundation-model/" in json.dumps(s["Resource"])]
    assert routed and all(
        pid in json.dumps(s["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]) for s in routed
    )


# --------------------------------------------------------------------------------------------------
# Account-level enforcement


def _enforce(**props: Any) -> dict[str, Any]:
    from cdk_llm_serving import AccountGuardrailEnforcement

    stack = cdk.Stack(cdk.App(), "S")
    AccountGuardrailEnforcement(stack, "Enforce", **{"guardrail_arn": EXISTING_ARN, "guardrail_version": "3", **props})
    return Template.from_stack(stack).to_json()


def test_enforced_guardrail_rules() -> None:
    # CloudFormation AWS::Bedrock::EnforcedGuardrailConfiguration: GuardrailVersion 'Numerical guardrail version (not
    # DRAFT)'; ModelEnforcement IncludedModels (min 1) and ExcludedModels are both required.
    expect_rule("GATEWAY.ENFORCED_GUARDRAIL_CONFIG", lambda: _enforce(guardrail_version="DRAFT"))
    expect_rule("GATEWAY.ENFORCED_GUARDRAIL_CONFIG", lambda: _enforce(excluded_models=["amazon.titan-embed-text-v2:0"]))
    expect_rule("GATEWAY.ENFORCED_GUARDRAIL_CONFIG", lambda: _enforce(included_models=[]))


def test_enforced_guardrail_renders_one_configuration() -> None:
    from cdk_llm_serving import SelectiveGuarding

    t = _enforce(
        included_models=[NOVA_LITE],
        excluded_models=["amazon.titan-embed-text-v2:0"],
        messages=SelectiveGuarding.SELECTIVE,
    )
    ((_, res),) = resources(t, "AWS::Bedrock::EnforcedGuardrailConfiguration").items()
    assert res["Properties"] == {
        "GuardrailIdentifier": EXISTING_ARN,
        "GuardrailVersion": "3",
        "ModelEnforcement": {"IncludedModels": [NOVA_LITE], "ExcludedModels": ["amazon.titan-embed-text-v2:0"]},
        "SelectiveContentGuarding": {"Messages": "SELECTIVE"},
    }
    # Without model lists the configuration applies to every model (ModelEnforcement left out).
    ((_, every),) = resources(_enforce(), "AWS::Bedrock::EnforcedGuardrailConfiguration").items()
    assert "ModelEnforcement" not in every["Properties"]


# --------------------------------------------------------------------------------------------------
# ChatStack: a guardrail by default


def test_chat_settings_guard_every_alias_by_default() -> None:
    from stacks import ChatSettings
    from stacks.chat_stack import DEFAULT_CHAT_GUARDRAIL

    models = ChatSettings().guarded_models()
    assert models and all(m.guardrail is DEFAULT_CHAT_GUARDRAIL for m in models)
    assert all(m.guardrail is None for m in ChatSettings.from_context({"guardrail": False}).guarded_models())
    # The default policy passes the guardrail rules; e-mail and phone are anonymized in answers only.
    assert DEFAULT_CHAT_GUARDRAIL.policy is not None
    assert rules.problems(rules.GuardrailPolicySubject("Chat", DEFAULT_CHAT_GUARDRAIL.policy)) == []
    assert {(e.type, e.action, e.input_action) for e in DEFAULT_CHAT_GUARDRAIL.policy.pii_entities} == {
        ("EMAIL", PiiAction.ANONYMIZE, PiiAction.NONE),
        ("PHONE", PiiAction.ANONYMIZE, PiiAction.NONE),
    }


def test_chat_guardrail_setting_is_typed() -> None:
    from stacks import ChatSettings

    with pytest.raises(PropsValidationError) as info:
        ChatSettings.from_context({"guardrail": "yes", "auth": "x"})
    assert any("'guardrail' must be bool" in p for p in info.value.problems)
    assert any("'auth'" in p for p in info.value.problems)  # reported together, in one pass


def test_chat_stack_ships_its_guardrail(synthesis: Any) -> None:
    chat = synthesis.templates["ChatStack"]
    ((_, guardrail),) = resources(chat, "AWS::Bedrock::Guardrail").items()
    assert {f["Type"] for f in guardrail["Properties"]["ContentPolicyConfig"]["FiltersConfig"]} >= {
        "HATE",
        "PROMPT_ATTACK",
    }
    assert len(resources(chat, "AWS::Bedrock::GuardrailVersion")) == 1
