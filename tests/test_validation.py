"""Invalid props and settings fail at synth with messages that say what to change."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2

from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    GatewayAlarmOptions,
    GatewayAuth,
    GatewayEndpoint,
    GatewayLimits,
    KnowledgeBaseRetrieval,
    PropsValidationError,
    SageMakerModelAlias,
)
from cdk_llm_serving._types import PropsTypeError, matches
from cdk_llm_serving.bedrock_gateway.aliases import (
    MAX_RUNTIME_CONFIG_BYTES,
    TOKEN_PLACEHOLDER_LENGTH,
    runtime_config,
    runtime_config_json,
    runtime_config_size,
)
from stacks import ChatSettings

GOOD = BedrockModelAlias(alias="ok", model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0")
SM = SageMakerModelAlias(alias="sm", endpoint_name="my-endpoint")
KB = KnowledgeBaseRetrieval(knowledge_base_id="ABCDEFGHIJ")
TOKEN = cdk.Token.as_string(cdk.Fn.ref("SomeParameter"))
ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint"
COMPONENT_ARN = "arn:aws:sagemaker:us-east-1:123456789012:inference-component/adapter-a"


def _sm(**kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("alias", "sm")
    kwargs.setdefault("endpoint_name", "my-endpoint")
    return {"models": [SageMakerModelAlias(**kwargs)]}


def _kb(**kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("knowledge_base_id", "ABCDEFGHIJ")
    return _sm(retrieval=KnowledgeBaseRetrieval(**kwargs))


def _build(**kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("models", [GOOD])
    return BedrockGatewayApi(cdk.Stack(cdk.App(), "S"), "Gw", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": []}, "models must contain at least one BedrockModelAlias"),
        ({"models": [GOOD, GOOD]}, "model alias 'ok' appears more than once"),
        ({"models": [BedrockModelAlias(alias="bad alias", model_id=GOOD.model_id)]}, "alias must match"),
        (
            {"models": [BedrockModelAlias(alias="a", model_id="arn:aws:bedrock:us-east-1::foundation-model/x.y")]},
            "must be a model or inference profile ID, not an ARN",
        ),
        ({"models": [BedrockModelAlias(alias="a", model_id="claude")]}, "is not a Bedrock model ID like"),
        (
            {
                "models": [
                    BedrockModelAlias(alias="a", model_id=GOOD.model_id, max_tokens_cap=100, default_max_tokens=200)
                ]
            },
            "default_max_tokens must be between 1 and max_tokens_cap (100), got 200",
        ),
        (
            {"models": [BedrockModelAlias(alias="a", model_id=GOOD.model_id, max_tokens_cap=0)]},
            "max_tokens_cap must be between 1",
        ),
        ({"limits": GatewayLimits(max_request_bytes=20_000_000)}, "API Gateway's 10 MB payload limit"),
        ({"limits": GatewayLimits(max_messages=0)}, "limits.max_messages must be between 1 and 10000, got 0"),
        (
            {"generation_timeout": cdk.Duration.minutes(20)},
            "generation_timeout must be between 30 seconds and 15 minutes",
        ),
        ({"generation_timeout": cdk.Duration.seconds(5)}, "got 5 seconds"),
        ({"throttling_rate_limit": 0}, "throttling_rate_limit must be positive"),
        ({"throttling_burst_limit": 10_000}, "throttling_burst_limit must be between 1 and 5000"),
        ({"reserved_concurrency": 0}, "reserved_concurrency must be at least 1"),
        ({"memory_size": 64}, "memory_size must be between 128 and 10240 MiB, got 64"),
        ({"stage_name": "prod v1"}, "stage_name may contain only letters"),
        ({"waf_rate_limit_per_ip": 10}, "waf_rate_limit_per_ip must be between 100"),
        ({"metrics_namespace": "AWS/Bedrock"}, "not start with 'AWS/'"),
        ({"alarms": GatewayAlarmOptions(server_errors=0)}, "alarms.server_errors must be at least 1, got 0"),
        ({"alarms": GatewayAlarmOptions(model_throttles=-1)}, "alarms.model_throttles must be at least 1, got -1"),
        ({"alarms": GatewayAlarmOptions(model_config_errors=0)}, "alarms.model_config_errors must be at least 1"),
        (
            {"alarms": GatewayAlarmOptions(time_to_first_token_p90=cdk.Duration.seconds(0))},
            "alarms.time_to_first_token_p90 must be longer than 0 milliseconds",
        ),
        (
            {
                "models": [
                    BedrockModelAlias(alias=f"alias-{i:03d}-" + "x" * 40, model_id=GOOD.model_id) for i in range(40)
                ]
            },
            "too large for the function's environment",
        ),
        # --- SageMaker aliases
        ({"models": [SM, SM]}, "model alias 'sm' appears more than once"),
        (
            {"models": [GOOD, SageMakerModelAlias(alias="ok", endpoint_name="e")]},
            "model alias 'ok' appears more than once",
        ),
        (_sm(alias="bad alias"), "model alias 'bad alias': alias must match"),
        (_sm(endpoint_name=""), "endpoint_name must be a non-empty string, got ''"),
        (_sm(endpoint_name="my_endpoint"), "endpoint_name must be 1-63 letters, digits and single hyphens"),
        (_sm(endpoint_name="e" * 64), "endpoint_name must be 1-63 letters"),
        (_sm(endpoint_name=TOKEN), "endpoint_name is a CDK token, so pass endpoint_arn too"),
        (
            _sm(endpoint_arn="my-endpoint"),
            "endpoint_arn must look like 'arn:aws:sagemaker:<region>:<account>:endpoint/<name>'",
        ),
        (_sm(endpoint_arn=COMPONENT_ARN), "endpoint_arn must look like"),
        (
            _sm(endpoint_name="other-endpoint", endpoint_arn=ENDPOINT_ARN),
            "endpoint_arn names endpoint 'my-endpoint', not endpoint_name 'other-endpoint'",
        ),
        (
            _sm(
                endpoint_name="My-Endpoint",
                endpoint_arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/My-Endpoint",
            ),
            "(SageMaker ARNs hold the lower-cased name)",
        ),
        (_sm(inference_component_name="adapter_a"), "inference_component_name must be 1-63 letters"),
        (_sm(inference_component_name=""), "inference_component_name must be a non-empty string"),
        (
            _sm(inference_component_name=TOKEN),
            "inference_component_name is a CDK token, so pass inference_component_arn too",
        ),
        (
            _sm(inference_component_name="adapter-a", inference_component_arn=ENDPOINT_ARN),
            "inference_component_arn must look like 'arn:aws:sagemaker:<region>:<account>:inference-component/<name>'",
        ),
        (
            _sm(inference_component_name="adapter-b", inference_component_arn=COMPONENT_ARN),
            "inference_component_arn names inference-component 'adapter-a', not inference_component_name 'adapter-b'",
        ),
        (
            _sm(inference_component_arn=COMPONENT_ARN),
            "inference_component_arn is set but inference_component_name is not",
        ),
        (
            _sm(max_tokens_cap=100),
            "model alias 'sm': default_max_tokens must be between 1 and max_tokens_cap (100), got 512",
        ),
        (
            _sm(max_tokens_cap=0, default_max_tokens=0),
            "model alias 'sm': max_tokens_cap must be between 1 and 1000000, got 0",
        ),
        # --- retrieval (both alias types)
        (
            _kb(knowledge_base_id="abc"),
            "retrieval.knowledge_base_id must be 10 letters or digits (like 'ABCDEFGHIJ'), got 'abc'",
        ),
        (_kb(number_of_results=0), "retrieval.number_of_results must be between 1 and 100, got 0"),
        (_kb(number_of_results=101), "retrieval.number_of_results must be between 1 and 100, got 101"),
        (
            _kb(knowledge_base_arn="ABCDEFGHIJ"),
            "retrieval.knowledge_base_arn must look like 'arn:aws:bedrock:<region>:<account>:knowledge-base/<id>'",
        ),
        (
            _kb(knowledge_base_arn="arn:aws:bedrock:us-east-1:123456789012:knowledge-base/KLMNOPQRST"),
            "retrieval.knowledge_base_arn names knowledge base 'KLMNOPQRST', not knowledge_base_id 'ABCDEFGHIJ'",
        ),
        (
            {
                "models": [
                    BedrockModelAlias(
                        alias="b", model_id=GOOD.model_id, retrieval=KnowledgeBaseRetrieval(knowledge_base_id="x")
                    )
                ]
            },
            "model alias 'b': retrieval.knowledge_base_id must be 10 letters or digits",
        ),
    ],
)
def test_invalid_gateway_props(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PropsValidationError) as info:
        _build(**kwargs)
    assert message in str(info.value)
    assert info.value.subject == "BedrockGatewayApi at S/Gw"  # the construct path, not a fixed string


@pytest.mark.parametrize(
    ("build", "message"),
    [
        # E-newcomer row 6: a string cap used to read "must be between 1 and 1000000, got 4096" (plus a cascade).
        (
            lambda: BedrockModelAlias(alias="a", model_id=GOOD.model_id, max_tokens_cap="4096"),
            "BedrockModelAlias (1 problem(s)):\n  - max_tokens_cap must be int, got str '4096' (pass the number 4096 without quotes)",
        ),
        # E-newcomer row 6: AttributeError: 'str' object has no attribute 'mode'.
        (
            lambda: _build(auth="iam"),
            "auth must be GatewayAuth or None, got str 'iam' (build it with a GatewayAuth factory, e.g. GatewayAuth.iam(...))",
        ),
        # E-newcomer row 6: AttributeError: 'int' object has no attribute 'to_seconds'.
        (
            lambda: _build(generation_timeout=600),
            "generation_timeout must be cdk.Duration or None, got int 600 (use cdk.Duration.seconds(600))",
        ),
        (
            lambda: _build(models=[GOOD, {"alias": "x"}]),
            "models[1] must be BedrockModelAlias or SageMakerModelAlias or BedrockEmbeddingAlias, got dict {'alias': 'x'}",
        ),
        (
            lambda: _build(endpoint="private"),
            "endpoint must be GatewayEndpoint or None, got str 'private' (build it with a GatewayEndpoint factory, e.g. "
            "GatewayEndpoint.private(...))",
        ),
        (
            lambda: _build(memory_size="1024"),
            "memory_size must be int, got str '1024' (pass the number 1024 without quotes)",
        ),
        (lambda: _build(log_retention=30), "log_retention must be aws_logs.RetentionDays, got int 30"),
        (lambda: KnowledgeBaseRetrieval(knowledge_base_id=12), "knowledge_base_id must be str, got int 12"),
        (
            lambda: SageMakerModelAlias(alias="sm", endpoint_name="e", retrieval={"knowledge_base_id": "ABCDEFGHIJ"}),
            "retrieval must be KnowledgeBaseRetrieval or None, got dict",
        ),
        (
            lambda: SageMakerModelAlias(alias="sm", endpoint_name="e", container_kind="lmi"),
            "container_kind must be ContainerKind or None, got str 'lmi'",
        ),
        (lambda: GatewayLimits(max_messages=64.5), "max_messages must be int, got float 64.5"),
        (
            lambda: GatewayEndpoint.private(vpc=None, vpc_subnets="private"),  # type: ignore[arg-type]
            "vpc_subnets must be aws_ec2.SubnetSelection or None, got str 'private'",
        ),
    ],
)
def test_wrong_types_name_the_prop_the_type_and_a_fix(build, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PropsTypeError) as info:
        build()
    assert message in str(info.value)


def test_number_tokens_are_ints_for_the_type_check() -> None:
    # KnowledgeBaseRetrieval(number_of_results=<token>) is supported: a CDK number token is a float at synth.
    assert matches(cdk.Token.as_number(cdk.Fn.ref("Results")), int)
    assert not matches(2.5, int) and not matches(True, int)


def test_a_bad_token_cap_is_reported_once_not_through_the_default() -> None:
    # Review G §4 / E: max_tokens_cap=0 also produced "default_max_tokens must be between 1 and max_tokens_cap (0)".
    with pytest.raises(PropsValidationError) as info:
        _build(models=[BedrockModelAlias(alias="a", model_id=GOOD.model_id, max_tokens_cap=0)])
    assert info.value.problems == ["model alias 'a': max_tokens_cap must be between 1 and 1000000, got 0"]
    number = cdk.Token.as_number(cdk.Fn.ref("Cap"))
    with pytest.raises(PropsValidationError) as info:
        _build(models=[BedrockModelAlias(alias="a", model_id=GOOD.model_id, max_tokens_cap=number)])
    assert info.value.problems == [
        "model alias 'a': max_tokens_cap must be a literal number, not a CDK token (it is written into the"
        " function's configuration at synth time)"
    ]


def _private_build(vpc_factory, **private_kwargs):  # type: ignore[no-untyped-def]
    stack = cdk.Stack(cdk.App(), "S")
    vpc = vpc_factory(stack)
    return BedrockGatewayApi(stack, "Gw", models=[SM], endpoint=GatewayEndpoint.private(vpc=vpc, **private_kwargs))


def _public_only_vpc(stack: cdk.Stack) -> ec2.Vpc:
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        subnet_configuration=[ec2.SubnetConfiguration(name="pub", subnet_type=ec2.SubnetType.PUBLIC)],
    )


def _full_vpc(stack: cdk.Stack) -> ec2.Vpc:
    return ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)


def _vpc_without_cidr(stack: cdk.Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-12345678", availability_zones=["us-east-1a"], isolated_subnet_ids=["subnet-12345678"]
    )


@pytest.mark.parametrize(
    ("vpc_factory", "private_kwargs", "message"),
    [
        (_public_only_vpc, {}, "the VPC has no private or isolated subnets for the function and the VPC endpoints"),
        (
            _full_vpc,
            {"vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)},
            "vpc_subnets must be private or isolated",
        ),
        (
            _full_vpc,
            {"vpc_subnets": ec2.SubnetSelection(subnet_group_name="nope")},
            "vpc_subnets select nothing in the VPC",
        ),
        (
            _vpc_without_cidr,
            {},
            "the VPC's CIDR block is unknown; import it with ec2.Vpc.from_vpc_attributes(..., vpc_cidr_block=...)",
        ),
        (lambda stack: None, {}, "endpoint=GatewayEndpoint.private(...) needs a vpc"),
    ],
)
def test_invalid_private_endpoint(vpc_factory, private_kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PropsValidationError) as info:
        _private_build(vpc_factory, **private_kwargs)
    assert message in str(info.value)


def test_tokens_are_accepted_where_they_can_be_resolved_later() -> None:
    number = cdk.Token.as_number(cdk.Fn.ref("Results"))
    _build(
        models=[
            SageMakerModelAlias(
                alias="t",
                endpoint_name=TOKEN,
                endpoint_arn=cdk.Fn.import_value("EndpointArn"),
                inference_component_name=cdk.Fn.import_value("Component"),
                inference_component_arn=cdk.Fn.import_value("ComponentArn"),
                retrieval=KnowledgeBaseRetrieval(knowledge_base_id=TOKEN, number_of_results=number),
            ),
            BedrockModelAlias(
                alias="b", model_id=GOOD.model_id, retrieval=KnowledgeBaseRetrieval(knowledge_base_id=TOKEN)
            ),
        ]
    )


def test_tokens_count_at_their_longest_in_the_environment_size() -> None:
    config = '{"endpointName":"' + TOKEN + '"}'
    assert runtime_config_size(config) == len('{"endpointName":""}') + TOKEN_PLACEHOLDER_LENGTH
    many = [
        SageMakerModelAlias(
            alias=f"adapter-{i:02d}",
            endpoint_name=TOKEN,
            endpoint_arn=TOKEN,
            inference_component_name=TOKEN,
            inference_component_arn=TOKEN,
        )
        for i in range(16)
    ]
    # The raw document (tokens as "${Token[...]}") would fit; the deployed one may not.
    raw = runtime_config_json(
        runtime_config(
            models=many, limits=GatewayLimits(), log_content=False, metrics_namespace="n", service_name="x" * 64
        )
    )
    assert len(raw) < MAX_RUNTIME_CONFIG_BYTES < runtime_config_size(raw)
    with pytest.raises(PropsValidationError, match="too large for the function's environment"):
        _build(models=many)


@dataclass(frozen=True)
class _Adapter:
    endpoint_name: str = "fleet"
    endpoint_arn: str = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fleet"
    inference_component_name: str = "adapter-a"
    inference_component_arn: str = COMPONENT_ARN


@dataclass(frozen=True)
class _Endpoint:
    endpoint_name: str = "fleet"
    endpoint_arn: str = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fleet"


def test_for_endpoint_is_duck_typed() -> None:
    plain = SageMakerModelAlias.for_endpoint(alias="a", endpoint=_Endpoint(), max_tokens_cap=1024)
    assert (plain.endpoint_name, plain.endpoint_arn, plain.inference_component_name, plain.max_tokens_cap) == (
        "fleet",
        _Endpoint.endpoint_arn,
        None,
        1024,
    )
    adapter = SageMakerModelAlias.for_endpoint(alias="a", endpoint=_Adapter())
    assert (adapter.inference_component_name, adapter.inference_component_arn) == ("adapter-a", COMPONENT_ARN)
    # Naming another component drops the object's component ARN (it would name the wrong one).
    other = SageMakerModelAlias.for_endpoint(alias="b", endpoint=_Adapter(), inference_component_name="adapter-b")
    assert (other.inference_component_name, other.inference_component_arn) == ("adapter-b", None)
    on_endpoint = SageMakerModelAlias.for_endpoint(
        alias="c", endpoint=_Endpoint(), inference_component_name="adapter-c"
    )
    assert (on_endpoint.inference_component_name, on_endpoint.inference_component_arn) == ("adapter-c", None)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(PropsValidationError) as info:
        _build(memory_size=1, throttling_rate_limit=-1, reserved_concurrency=0)
    assert len(info.value.problems) == 3
    assert "3 problem(s)" in str(info.value)


def test_switched_off_waf_leaves_documented_none_attributes() -> None:
    gw = _build(web_acl=False)  # the attribute was missing (AttributeError) instead of None
    assert gw.web_acl is None and gw.waf_log_group is None
    assert _build().waf_log_group is not None


def test_grant_invoke_requires_iam_auth() -> None:
    gw = _build(auth=GatewayAuth.cognito())
    with pytest.raises(ValueError, match="grant_invoke only applies to GatewayAuth.iam"):
        gw.grant_invoke(gw.role)


def test_unauthenticated_mode_warns_at_synth() -> None:
    gw = _build(auth=GatewayAuth.none_for_development())
    from aws_cdk.assertions import Annotations, Match

    Annotations.from_stack(cdk.Stack.of(gw)).has_warning("*", Match.string_like_regexp("WITHOUT authentication"))


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"auth": "apikey"}, "setting 'auth' must be one of cognito, iam, api_keys, none, got 'apikey'"),
        ({"thrtotling_rate_limit": 5}, "unknown setting 'thrtotling_rate_limit'; known settings:"),
        ({"throttling_burst_limit": "40"}, "setting 'throttling_burst_limit' must be int, got \"40\""),
        ({"reserved_concurrency": True}, "setting 'reserved_concurrency' must be int or NoneType, got true"),
        ({"log_retention_days": 31}, "setting 'log_retention_days' must be one of 1, 3, 5"),
        ({"models": []}, "setting 'models' must be a non-empty list"),
        ({"models": [{"alias": "x"}]}, "models[0] must be an object with at least 'alias' and 'model_id'"),
        ({"models": [{"alias": "x", "model_id": "a.b", "cap": 3}]}, "models[0] has unknown key(s) ['cap']"),
        ('{"auth": ', "not valid JSON"),
        ([1, 2], "must be a JSON object, got list"),
    ],
)
def test_invalid_chat_context(context, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PropsValidationError) as info:
        ChatSettings.from_context(context)
    assert message in str(info.value)


def test_chat_context_parses_models_and_json_strings() -> None:
    settings = ChatSettings.from_context(
        '{"auth": "iam", "models": [{"alias": "m", "model_id": "eu.amazon.nova-lite-v1:0", "max_tokens_cap": 512, "default_max_tokens": 256}]}'
    )
    assert settings.auth == "iam"
    assert settings.models == (
        BedrockModelAlias(alias="m", model_id="eu.amazon.nova-lite-v1:0", max_tokens_cap=512, default_max_tokens=256),
    )
    assert ChatSettings.from_context(None) == ChatSettings()


def test_chat_context_bad_model_fails_with_the_other_settings() -> None:
    # Reported by from_context together with every other setting problem (one synth, not two).
    with pytest.raises(PropsValidationError, match="model alias 'm': model_id 'nope' is not a Bedrock model ID"):
        ChatSettings.from_context({"models": [{"alias": "m", "model_id": "nope"}]})
    # The construct still checks the same allowlist when given typed settings directly.
    from stacks import ChatStack

    bad = ChatSettings(models=(BedrockModelAlias(alias="m", model_id="nope"),))
    with pytest.raises(PropsValidationError, match="model alias 'm': model_id 'nope' is not a Bedrock model ID"):
        ChatStack(cdk.App(), "Chat", settings=bad)


def test_chat_context_reports_every_kind_of_problem_in_one_synth() -> None:
    # E-newcomer row 10: this context needed 3 synths (types and names, then 'auth', then the alias); the
    # gateway's own range checks came in a 4th phase when the stack built the construct.
    context = {
        "models": [{"alias": "x y", "model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}],
        "throttling_rate_limit": "20",
        "max_tokens": 100,
        "auth": "IAM",
        "throttling_burst_limit": 10_000,
        "waf_rate_limit_per_ip": 10,
        "generation_timeout_seconds": 5,
        "max_messages": 0,
    }
    with pytest.raises(PropsValidationError) as info:
        ChatSettings.from_context(context)
    problems = info.value.problems
    expected = [
        "setting 'throttling_rate_limit' must be float, got \"20\"",
        "unknown setting 'max_tokens'; known settings:",
        "setting 'auth' must be one of cognito, iam, api_keys, none, got 'IAM'",
        "model alias 'x y': alias must match",
        "throttling_burst_limit must be between 1 and 5000",
        "waf_rate_limit_per_ip must be between 100 and 2000000000",
        # named as the settings, not as the gateway props they become (limits.max_messages, generation_timeout)
        "max_messages must be between 1 and 10000, got 0",
        "generation_timeout_seconds must be between 30 seconds and 15 minutes",
    ]
    for text in expected:
        assert sum(text in p for p in problems) == 1, (text, problems)
    assert len(problems) == len(expected)
    assert not any(p.startswith(("limits.", "generation_timeout ")) for p in problems)


def test_chat_context_model_entries_with_wrong_types_are_named() -> None:
    with pytest.raises(PropsValidationError) as info:
        ChatSettings.from_context(
            {
                "models": [
                    {"alias": "a", "model_id": "amazon.nova-lite-v1:0", "max_tokens_cap": "4096"},
                    {"alias": "b", "model_id": 7},
                ]
            }
        )
    first, second = info.value.problems
    assert first == "models[0].max_tokens_cap must be int, got str '4096' (pass the number 4096 without quotes)"
    assert second.startswith("models[1].model_id must be str, got int 7")


def test_chat_stack_checks_settings_built_in_code_the_same_way() -> None:
    from stacks import ChatStack

    with pytest.raises(PropsValidationError) as info:
        ChatStack(cdk.App(), "Chat", settings=ChatSettings(auth="IAM", throttling_burst_limit=10_000))
    assert info.value.subject == "ChatStack settings"
    assert len(info.value.problems) == 2
    gateway = ChatStack(cdk.App(), "Chat", settings=ChatSettings(auth="iam", log_retention_days=7)).gateway
    assert gateway.auth_mode.value == "iam"


def test_props_problems_are_the_constructors_checks_without_building() -> None:
    from cdk_llm_serving.bedrock_gateway.construct import props_problems

    assert props_problems({"models": [GOOD]}) == []
    # The same messages as the constructor, in the same order.
    bad = {"models": [GOOD], "memory_size": 64, "throttling_rate_limit": -1, "reserved_concurrency": 0}
    with pytest.raises(PropsValidationError) as info:
        _build(**bad)
    assert props_problems(bad) == info.value.problems
    # A region turns the profile-geography rule on, as an explicit stack Region does.
    (geo,) = props_problems({"models": [GOOD]}, region="eu-west-1")
    assert geo.startswith("[GATEWAY.BEDROCK_PROFILE_GEOGRAPHY]")
    # Wrong types are reported alone (values of the wrong type cannot be range-checked).
    wrong = props_problems({"models": [GOOD], "memory_size": "x", "stage_name": "a b"})
    assert wrong == ["memory_size must be int, got str 'x'"]
    with pytest.raises(TypeError, match="not BedrockGatewayApi props: memory"):
        props_problems({"models": [GOOD], "memory": 1})
    with pytest.raises(TypeError, match="missing BedrockGatewayApi props: models"):
        props_problems({})
