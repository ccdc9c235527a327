"""LoraAdapterFleet and LoraStack: intent, nested adapter stacks (cfn-lint + snapshots), the one-adapter-diff
property, 500 adapters, the cost model, and every validation message.

Session stacks: LoraStack (the app) and tests/variants_lora.py. Other tests synthesize small apps of their own.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk import aws_s3 as s3
from syrupy.extensions.json import JSONSnapshotExtension

import variants_lora
from cdk_llm_serving import (
    AdapterAlarmOptions,
    AdapterPackaging,
    AdapterStore,
    AutoScalingOptions,
    LlmContainer,
    LoraAdapter,
    LoraAdapterFleet,
    LoraOptions,
    ModelSource,
    PropsValidationError,
    TrafficAssumption,
)
from cdk_llm_serving.lora_fleet import PriceUnavailableError, compare_with_dedicated, cost_table, estimate_hourly_cost
from cdk_llm_serving.lora_fleet.adapters import shard_of
from harness import REPO, Synthesis, cfn_text, expect_rule, flat_statements, scrub
from harness import resources as _of_type
from stacks import LoraSettings
from test_compliance import _cfn_lint_config
from test_sagemaker import _policy_statements

LORA_STACKS = ["LoraStack", "LoraComponentsStack", "LoraInStackStack", "LoraStaticStack"]
IC = "AWS::SageMaker::InferenceComponent"
NESTED = "AWS::CloudFormation::Stack"


# ------------------------------------------------------------------ helpers


def _nested_templates(outdir: Path, stack_name: str, parent: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Parent logical ID of each nested stack → its template, found through the parent's asset manifest."""
    assets = json.loads((outdir / f"{stack_name}.assets.json").read_text())["files"]
    out = {}
    for logical_id, resource in _of_type(parent, NESTED).items():
        url = json.dumps(resource["Properties"]["TemplateURL"])
        (asset_hash,) = re.findall(r"/([0-9a-f]{64})\.json", url)
        out[logical_id] = json.loads((outdir / assets[asset_hash]["source"]["path"]).read_text())
    return out


def _base_component(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in _of_type(template, IC).items() if "ModelName" in v["Properties"]["Specification"]]
    return found


def _adapters_in(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: v
        for k, v in _of_type(template, IC).items()
        if "BaseInferenceComponentName" in v["Properties"]["Specification"]
    }


def gateway_config(template: dict[str, Any]) -> dict[str, Any]:
    """The GATEWAY_CONFIG document of the (one) gateway function in ``template`` (also used by tests/runtime)."""
    (config,) = [
        f["Properties"]["Environment"]["Variables"]["GATEWAY_CONFIG"]
        for f in _of_type(template, "AWS::Lambda::Function").values()
        if "GATEWAY_CONFIG" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert isinstance(config, str), "the allowlist holds literal names only (no CloudFormation tokens)"
    return json.loads(config)


def _lint(template: dict[str, Any]) -> list[str]:
    return [
        str(m) for m in cfnlint.api.lint(json.dumps(template), config=_cfn_lint_config()) if m.rule.id.startswith("E")
    ]


@pytest.fixture(scope="module")
def templates(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    return {name: synthesis.templates[name] for name in LORA_STACKS}


@pytest.fixture(scope="module")
def nested(synthesis: Synthesis, templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {name: _nested_templates(synthesis.outdir, name, t) for name, t in templates.items()}


def _synth(build, *, nag: bool = False) -> tuple[dict[str, Any], dict[str, dict[str, Any]], Path]:
    """Synthesize one stack ``build(stack)`` into a fresh directory: (parent template, nested templates, outdir)."""
    outdir = Path(tempfile.mkdtemp(prefix="lora-"))
    app = cdk.App(outdir=str(outdir))
    if nag:
        from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(), NIST80053R5Checks())
    stack = cdk.Stack(app, "Fleet")
    build(stack)
    app.synth()
    parent = json.loads((outdir / "Fleet.template.json").read_text())
    return parent, _nested_templates(outdir, "Fleet", parent), outdir


def _fleet(stack: cdk.Stack, adapters: list[LoraAdapter], **kwargs: Any) -> LoraAdapterFleet:
    bucket = s3.Bucket.from_bucket_name(stack, "Weights", "weights")
    kwargs.setdefault("adapter_store", AdapterStore(bucket, "adapters/"))
    return LoraAdapterFleet(
        stack, "Fleet", base_model=ModelSource.s3_prefix(bucket, "base/"), adapters=adapters, **kwargs
    )


# ================================================================ adapter shape


@pytest.mark.parametrize("stack_name", ["LoraStack", "LoraComponentsStack", "LoraInStackStack"])
def test_adapter_components_are_pure_adapter_components(templates, nested, stack_name: str) -> None:
    """BaseInferenceComponentName + Container.ArtifactUrl only: no compute, copies or variant of their own."""
    parent = templates[stack_name]
    base_id, base = _base_component(parent)
    (endpoint_id,) = _of_type(parent, "AWS::SageMaker::Endpoint")
    shards = nested[stack_name]
    adapters = dict(_adapters_in(parent))
    for shard_id, shard in shards.items():
        for logical_id, adapter in _adapters_in(shard).items():
            adapters[logical_id] = adapter
            # The endpoint name arrives as a parameter of the nested stack: the endpoint's EndpointName attribute.
            param = adapter["Properties"]["EndpointName"]["Ref"]
            assert parent["Resources"][shard_id]["Properties"]["Parameters"][param] == {
                "Fn::GetAtt": [endpoint_id, "EndpointName"]
            }
            # ...and the whole nested stack waits for the base component.
            assert base_id in parent["Resources"][shard_id]["DependsOn"]
    assert adapters
    for logical_id, adapter in adapters.items():
        props = adapter["Properties"]
        assert set(props) == {"EndpointName", "InferenceComponentName", "Specification"}, logical_id
        assert set(props["Specification"]) == {"BaseInferenceComponentName", "Container"}
        assert set(props["Specification"]["Container"]) == {"ArtifactUrl"}
        assert props["Specification"]["BaseInferenceComponentName"] == base["Properties"]["InferenceComponentName"]
        if logical_id in parent["Resources"]:  # in the fleet's own stack
            assert props["EndpointName"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}
            assert adapter["DependsOn"] == [base_id]


def test_component_stack_names_urls_and_shards(templates, nested) -> None:
    stack = templates["LoraComponentsStack"]
    base_name = _base_component(stack)[1]["Properties"]["InferenceComponentName"]
    by_name = {}
    for shard_id, shard in nested["LoraComponentsStack"].items():
        for adapter in _adapters_in(shard).values():
            by_name[adapter["Properties"]["InferenceComponentName"]] = (shard_id, adapter["Properties"])
    prefix = "LoraCompk-Fleet-3C3D9732"  # cdk.Names.unique_resource_name(fleet, max_length=24, separator="-")
    expected = {
        "support": "s3://example-lora-adapters/tenants/support/adapter.tar.gz",  # the default key
        "legal": "s3://example-lora-adapters/tenants/legal/v3/adapter.tar.gz",
        "sql": "s3://example-lora-adapters/tenants/sql/adapter.tar.gz",
        "fr-FR": "s3://example-lora-adapters/tenants/fr-FR/adapter.tar.gz",
        "de-DE": "s3://example-lora-adapters/tenants/de-DE/adapter.tar.gz",
        "tenant-0001": "s3://example-lora-adapters/tenants/tenant-0001/adapter.tar.gz",
        "tenant-0002": "s3://example-lora-adapters/tenants/tenant-0002/adapter.tar.gz",
        "late-addition": "s3://example-lora-adapters/tenants/late/lora.tar.gz",
    }
    assert set(by_name) == {f"{prefix}-{n}" for n in expected}
    shard_ids = sorted(nested["LoraComponentsStack"], key=lambda k: int(re.search(r"AdapterStack(\d+)", k)[1]))  # type: ignore[index]
    for name, url in expected.items():
        shard_id, props = by_name[f"{prefix}-{name}"]
        assert props["Specification"]["Container"]["ArtifactUrl"] == url
        assert shard_id == shard_ids[shard_of(name, 2)], f"{name} is in the wrong adapter stack"
    assert not base_name.startswith(prefix)
    # Shards deploy one after another; each keeps an anchor so it is a valid template even when empty.
    assert shard_ids[0] in stack["Resources"][shard_ids[1]]["DependsOn"]
    for shard in nested["LoraComponentsStack"].values():
        assert shard["Resources"]["Anchor"] == {"Type": "AWS::CloudFormation::WaitConditionHandle"}


def test_default_lora_stack_spreads_adapters_over_four_stacks(templates, nested) -> None:
    stack = templates["LoraStack"]
    assert len(_of_type(stack, NESTED)) == 4 and not _adapters_in(stack)
    names = sorted(
        a["Properties"]["InferenceComponentName"]
        for s in nested["LoraStack"].values()
        for a in _adapters_in(s).values()
    )
    assert names == [
        "LoraStack-Fleet-A76998D4-legal",
        "LoraStack-Fleet-A76998D4-sql",
        "LoraStack-Fleet-A76998D4-support",
    ]


# ================================================================ IAM


@pytest.mark.parametrize(
    "stack_name, model, store, key",
    [
        (
            "LoraStack",
            "cdk-llm-serving-model-weights/qwen2.5-7b-instruct/*",
            "cdk-llm-serving-model-weights/lora-adapters/qwen2.5-7b-instruct/*",
            None,
        ),
        (
            "LoraComponentsStack",
            "example-llm-weights/llama-3.1-8b-instruct/*",
            "example-lora-adapters/tenants/*",
            variants_lora.ADAPTER_KEY_ARN,
        ),
        (
            "LoraInStackStack",
            "example-llm-weights/qwen2.5-1.5b-instruct/*",
            "example-llm-weights/qwen2.5-1.5b-instruct-adapters/*",
            None,
        ),
        ("LoraStaticStack", "example-llm-weights/mistral-7b-with-adapters/*", None, None),
    ],
)
def test_execution_role_reads_exactly_the_model_and_the_adapter_store(templates, stack_name, model, store, key) -> None:
    statements = flat_statements(_policy_statements(templates[stack_name]))  # the fleet's one execution policy
    reads = sorted(cfn_text(s["Resource"]) for s in statements if s["Action"] == "s3:GetObject")
    assert reads == sorted(f"arn:{{AWS::Partition}}:s3:::{p}" for p in (model, store) if p)
    lists = sorted(s["Condition"]["StringLike"]["s3:prefix"][0] for s in statements if s["Action"] == "s3:ListBucket")
    assert lists == sorted(p.split("/", 1)[1] for p in (model, store) if p)
    decrypt = [s["Resource"] for s in statements if s["Action"] == "kms:Decrypt"]
    assert decrypt == ([key] if key else [])
    assert not any(s["Action"] == "s3:*" or s.get("Resource") == "arn:aws:s3:::*" for s in statements)


def test_grants_per_adapter_and_per_fleet(templates) -> None:
    stack = templates["LoraComponentsStack"]
    policies = {
        k: v["Properties"]["PolicyDocument"]["Statement"] for k, v in _of_type(stack, "AWS::IAM::Policy").items()
    }
    (tenant,) = [s for k, v in policies.items() if k.startswith("TenantRole") for s in v]
    (operator,) = [s for k, v in policies.items() if k.startswith("OperatorRole") for s in v]
    arn = "arn:{AWS::Partition}:sagemaker:{AWS::Region}:{AWS::AccountId}:"
    assert sorted(cfn_text(r) for r in tenant["Resource"]) == [
        arn + "endpoint/loracomponentsstack-fleet-base-7a4bacad",
        arn + "inference-component/loracompk-fleet-3c3d9732-tenant-0001",
    ]
    assert sorted(cfn_text(r) for r in operator["Resource"]) == sorted(
        [
            arn + "endpoint/loracomponentsstack-fleet-base-7a4bacad",
            arn + "inference-component/loracomponentsstack-fleet-base-7a4bacad-ic",
            arn + "inference-component/loracompk-fleet-3c3d9732-*",
        ]
    )
    assert (
        tenant["Action"]
        == operator["Action"]
        == ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
    )


# ================================================================ scaling, alarms, dashboard


def test_base_copies_scale_on_concurrency_and_wake_from_zero_on_any_adapter(templates, nested) -> None:
    stack = templates["LoraComponentsStack"]
    (config,) = _of_type(stack, "AWS::SageMaker::EndpointConfig").values()
    variant = config["Properties"]["ProductionVariants"][0]
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}
    assert "ModelName" not in variant
    base_id, base = _base_component(stack)
    assert base["Properties"]["Specification"]["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"] == 1
    (target,) = _of_type(stack, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["ResourceId"] == f"inference-component/{base['Properties']['InferenceComponentName']}"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (0, 8)
    policies = _of_type(stack, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = [p for p in policies.values() if p["Properties"]["PolicyType"] == "TargetTrackingScaling"]
    assert tracking[0]["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    }
    (wake_id,) = [k for k, p in policies.items() if "WakeUpAction" in k]
    # Every adapter's no-capacity failures run the base's +1 step action.
    wakes = 0
    for shard_id, shard in nested["LoraComponentsStack"].items():
        params = stack["Resources"][shard_id]["Properties"].get("Parameters", {})
        for alarm in _of_type(shard, "AWS::CloudWatch::Alarm").values():
            props = alarm["Properties"]
            if props["MetricName"] != "NoCapacityInvocationFailures":
                continue
            wakes += 1
            (action,) = props["AlarmActions"]
            assert params[action["Ref"]] == {"Ref": wake_id}
            assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert wakes == len(variants_lora.COMPONENT_ADAPTERS) + 1


def test_per_adapter_error_alarms_notify_the_topic(templates, nested) -> None:
    stack = templates["LoraComponentsStack"]
    (topic_id,) = _of_type(stack, "AWS::SNS::Topic")
    count = 0
    for shard_id, shard in nested["LoraComponentsStack"].items():
        params = stack["Resources"][shard_id]["Properties"].get("Parameters", {})
        names = {a["Properties"]["InferenceComponentName"] for a in _adapters_in(shard).values()}
        for alarm in _of_type(shard, "AWS::CloudWatch::Alarm").values():
            props = alarm["Properties"]
            if props["MetricName"] != "Invocation5XXErrors":
                continue
            count += 1
            (dimension,) = props["Dimensions"]
            assert dimension["Name"] == "InferenceComponentName" and dimension["Value"] in names
            assert props["Threshold"] == 3
            assert [params[a["Ref"]] for a in props["AlarmActions"]] == [{"Ref": topic_id}]
    assert count == len(variants_lora.COMPONENT_ADAPTERS) + 1


def test_dashboard_searches_adapters_instead_of_listing_them(templates) -> None:
    stack = templates["LoraComponentsStack"]
    (dashboard,) = _of_type(stack, "AWS::CloudWatch::Dashboard").values()
    body = cfn_text(dashboard["Properties"]["DashboardBody"])
    assert (
        'SEARCH(\'{AWS/SageMaker,InferenceComponentName} MetricName=\\"Invocations\\" \\"LoraCompk-Fleet-3C3D9732\\"\''
        in body
    )
    for adapter in variants_lora.COMPONENT_ADAPTERS:
        assert adapter.name not in body  # adding an adapter never changes the dashboard
    assert not _of_type(templates["LoraInStackStack"], "AWS::CloudWatch::Dashboard")


def test_static_packaging_has_no_adapter_components(templates, synthesis: Synthesis) -> None:
    stack = templates["LoraStaticStack"]
    assert not _adapters_in(stack) and not _of_type(stack, NESTED)
    (model,) = _of_type(stack, "AWS::SageMaker::Model").values()
    env = model["Properties"]["PrimaryContainer"]["Environment"]
    assert (env["OPTION_ENABLE_LORA"], env["OPTION_MAX_LORA_RANK"], env["OPTION_MAX_LORAS"]) == ("true", "32", "2")
    assert (
        model["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri"]
        == "s3://example-llm-weights/mistral-7b-with-adapters/"
    )
    fleet = synthesis.stacks["LoraStaticStack"].fleet  # type: ignore[attr-defined]
    assert fleet.adapter_names == ["summarize", "classify"]
    with pytest.raises(ValueError, match="name the adapter in the request body"):
        fleet.adapter("summarize")


# ================================================================ container and artifacts (review A §1, §4)


@pytest.mark.parametrize("stack_name", ["LoraStack", "LoraComponentsStack", "LoraStaticStack"])
def test_lmi_lora_base_runs_async_mode_without_the_rolling_batcher(templates, stack_name: str) -> None:
    # djl-serving 0.34.0-dlc PyProcess.java:80-90,157-171: with OPTION_ROLLING_BATCH=vllm next to OPTION_ASYNC_MODE=true,
    # adapter registration goes to the rolling batcher and never reaches register_adapter (SAGEMAKER.LMI_ASYNC_ROLLING_BATCH).
    (model,) = _of_type(templates[stack_name], "AWS::SageMaker::Model").values()
    env = model["Properties"]["PrimaryContainer"]["Environment"]
    assert (env["OPTION_ASYNC_MODE"], env["OPTION_ROLLING_BATCH"]) == ("true", "disable")
    assert env["OPTION_ENTRYPOINT"] == "djl_python.lmi_vllm.vllm_async_service"


def test_lora_stack_adapters_default_to_one_tarball_each(nested) -> None:
    # botocore InferenceComponentContainerSpecification.ArtifactUrl: "a single gzip compressed tar archive (.tar.gz suffix)".
    urls = sorted(
        a["Properties"]["Specification"]["Container"]["ArtifactUrl"]
        for s in nested["LoraStack"].values()
        for a in _adapters_in(s).values()
    )
    assert urls == [
        f"s3://cdk-llm-serving-model-weights/lora-adapters/qwen2.5-7b-instruct/{n}/adapter.tar.gz"
        for n in ("legal", "sql", "support")
    ]


def test_lora_stack_reads_only_a_weights_bucket_of_its_own_account(templates) -> None:
    # The default bucket name is global: whoever creates cdk-llm-serving-model-weights first owns it.
    statements = [
        s
        for s in flat_statements(_policy_statements(templates["LoraStack"]))
        if s["Action"] in ("s3:GetObject", "s3:ListBucket")
    ]
    assert len(statements) == 4  # base model and adapter store, object reads and listings
    assert all(s["Condition"]["StringEquals"] == {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}} for s in statements)


def test_adapter_artifact_must_be_one_tarball() -> None:
    # botocore InferenceComponentContainerSpecification.ArtifactUrl: "This path must point to a single gzip compressed
    # tar archive (.tar.gz suffix)."; the old default "<name>/" was an S3 folder.
    for artifact in ("support/", "support/adapter.tgz", "s3://weights/adapters/support/"):
        message = expect_rule(
            "LORA.ADAPTER_ARTIFACT_TARBALL",
            lambda artifact=artifact: _fleet(
                cdk.Stack(cdk.App(), "S"), [LoraAdapter(name="support", artifact=artifact)]
            ),
        )
        assert f"artifact {artifact!r} must be one .tar.gz archive" in message
    fleet = _fleet(cdk.Stack(cdk.App(), "S"), [LoraAdapter(name="support")])
    assert fleet.adapter("support").artifact_url.endswith("/adapters/support/adapter.tar.gz")
    expect_rule("LORA.ADAPTER_ARTIFACT_TARBALL", lambda: fleet.add_adapter("legal", "legal/"))


# ================================================================ LoraStack


def test_lora_stack_gateway_serves_bedrock_and_adapter_aliases(templates, nested, synthesis: Synthesis) -> None:
    stack = templates["LoraStack"]
    targets = {m["alias"]: m["target"] for m in gateway_config(stack)["models"]}
    deployed = {
        a["Properties"]["InferenceComponentName"]
        for s in nested["LoraStack"].values()
        for a in _adapters_in(s).values()
    }
    endpoint = "LoraStack-Fleet-Base-3061270E"
    lmi = {"type": "sagemaker", "endpointName": endpoint, "containerKind": "lmi"}  # the fleet's LMI container
    assert targets == {
        "chat-fast": {"type": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
        "support": {**lmi, "inferenceComponentName": "LoraStack-Fleet-A76998D4-support"},
        "legal": {**lmi, "inferenceComponentName": "LoraStack-Fleet-A76998D4-legal"},
        "text-to-sql": {**lmi, "inferenceComponentName": "LoraStack-Fleet-A76998D4-sql"},
        "lora-base": {**lmi, "inferenceComponentName": endpoint + "-ic"},
    }
    assert {t["inferenceComponentName"] for a, t in targets.items() if a not in ("chat-fast", "lora-base")} == deployed
    # The gateway may invoke exactly this endpoint and these components (ARNs hold lower-cased names).
    (gateway_policy,) = [
        p for k, p in _of_type(stack, "AWS::IAM::ManagedPolicy").items() if k.startswith("GatewayPolicy")
    ]
    statements = {s.get("Sid"): s for s in gateway_policy["Properties"]["PolicyDocument"]["Statement"]}
    components = sorted(
        cfn_text(r).rsplit("/", 1)[1] for r in statements["InvokeSageMakerInferenceComponents"]["Resource"]
    )
    assert components == sorted([n.lower() for n in deployed] + [(endpoint + "-ic").lower()])
    assert cfn_text(statements["InvokeSageMakerEndpoints"]["Resource"]).endswith(":endpoint/" + endpoint.lower())
    outputs = stack["Outputs"]
    assert outputs["ModelAliases"]["Value"] == "chat-fast,support,legal,text-to-sql,lora-base"
    assert outputs["AdapterComponents"]["Value"].startswith("support=LoraStack-Fleet-A76998D4-support,")


def test_lora_settings_from_context() -> None:
    s = LoraSettings.from_context(
        {
            "adapters": [{"name": "a", "rank": 8}, {"name": "b", "alias": "bee", "gateway": False}],
            "bedrock_models": [{"alias": "fast", "model_id": "amazon.nova-micro-v1:0"}],
            "scale_to_zero": True,
        }
    )
    assert [(a.name, a.rank, a.gateway_alias, a.gateway) for a in s.adapters] == [
        ("a", 8, "a", True),
        ("b", None, "bee", False),
    ]
    assert s.bedrock_models[0].alias == "fast" and s.scale_to_zero
    with pytest.raises(PropsValidationError) as err:
        LoraSettings.from_context(
            {
                "adapters": [{"name": "x", "size": 1}, {"rank": 8}, {"name": "y", "rank": "8"}],
                "adapter_prefix": "adapters",
                "max_copies": 0,
                "flavour": 1,
            }
        )
    text = str(err.value)
    for fragment in (
        "adapters[0]: unknown setting 'size'; known settings: alias, artifact, gateway, name, rank",
        "adapters[1] must be an object with at least 'name'",
        "adapters[2]: setting 'rank' must be int or NoneType, got \"8\"",
        "unknown setting 'flavour'",
    ):
        assert fragment in text
    with pytest.raises(PropsValidationError) as err:
        LoraSettings.from_context({"adapter_prefix": "adapters", "max_copies": 0, "base_alias": "chat-fast"})
    text = str(err.value)
    for fragment in (
        "setting 'adapter_prefix' must be a folder",
        "setting 'max_copies' must be between 1 and 100",
        "gateway aliases must be unique; used more than once: chat-fast",
    ):
        assert fragment in text
    with pytest.raises(PropsValidationError, match="must not contain each other"):
        LoraSettings.from_context({"base_model_prefix": "models/", "adapter_prefix": "models/adapters/"})


# ================================================================ nested templates: lint + snapshots


@pytest.mark.parametrize("stack_name", ["LoraStack", "LoraComponentsStack"])
def test_nested_adapter_stacks_are_cfn_lint_clean(nested, stack_name: str) -> None:
    assert nested[stack_name]
    for logical_id, template in nested[stack_name].items():
        assert not _lint(template), logical_id


@pytest.mark.parametrize("stack_name", ["LoraStack", "LoraComponentsStack"])
def test_nested_adapter_stacks_snapshot(nested, snapshot, stack_name: str) -> None:
    # The top-level templates are in test_snapshots.py; these are the nested adapter stacks they deploy.
    assert scrub(nested[stack_name]) == snapshot.use_extension(JSONSnapshotExtension)


# ================================================================ one adapter, one diff


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, set[str]]:
    """Resource-level differences between two templates (plus changed top-level sections)."""
    b, a = before.get("Resources", {}), after.get("Resources", {})
    return {
        "added": set(a) - set(b),
        "removed": set(b) - set(a),
        "changed": {k for k in set(a) & set(b) if a[k] != b[k]},
        "sections": {s for s in set(before) | set(after) if s != "Resources" and before.get(s) != after.get(s)},
    }


def _diff_all(one: tuple, two: tuple) -> dict[str, dict[str, set[str]]]:
    (p1, n1, _), (p2, n2, _) = one, two
    out = {"parent": _diff(p1, p2)}
    for key in set(n1) | set(n2):
        out[key] = _diff(n1.get(key, {}), n2.get(key, {}))
    return {k: v for k, v in out.items() if any(v.values())}


_TEN = [LoraAdapter(name=f"tenant-{i:02d}") for i in range(10)] + [
    LoraAdapter(name="legal", artifact="legal/v1/adapter.tar.gz")
]
_FLEET = {"adapter_alarms": AdapterAlarmOptions(), "autoscaling": AutoScalingOptions(scale_to_zero=True)}


def _logical(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", name)


@pytest.mark.parametrize("adapter_stacks", [4, 0])
def test_adding_changing_or_removing_one_adapter_changes_only_that_adapter(adapter_stacks: int) -> None:
    kw = dict(_FLEET, adapter_stacks=adapter_stacks)
    base = _synth(lambda s: _fleet(s, _TEN, **kw))
    added = _synth(lambda s: _fleet(s, [*_TEN[:5], LoraAdapter(name="new-tenant"), *_TEN[5:]], **kw))
    changed = _synth(
        lambda s: _fleet(s, [*_TEN[:10], LoraAdapter(name="legal", artifact="legal/v2/adapter.tar.gz")], **kw)
    )
    removed = _synth(lambda s: _fleet(s, [*_TEN[:3], *_TEN[4:]], **kw))

    for after, adapter, kind in (
        (added, "new-tenant", "added"),
        (changed, "legal", "changed"),
        (removed, "tenant-03", "removed"),
    ):
        diff = _diff_all(base, after)
        adapter_changes = (
            {k: v for k, v in diff.items() if k != "parent"} if adapter_stacks else {"parent": diff["parent"]}
        )
        ((where, d),) = adapter_changes.items()
        touched = d["added"] | d["removed"] | d["changed"]
        # Only the adapter's own resources (its component and its alarms), all named after it...
        assert touched and all(_logical(adapter) in r for r in touched), (kind, touched)
        assert d[kind] and not d["sections"] - {"Parameters"}, (kind, d)
        if kind == "changed":  # ...exactly one resource: the component (its alarms name it, not its artifact)
            assert len(d["changed"]) == 1 and not d["added"] | d["removed"]
        if adapter_stacks:
            # ...and in the fleet's stack only the hash of that adapter stack's template URL.
            shard = next(k for k in base[1] if k == where)
            assert diff["parent"]["changed"] == {shard} and not diff["parent"]["added"] | diff["parent"]["removed"]
            assert not diff["parent"]["sections"]
            p1, p2 = base[0]["Resources"][shard], after[0]["Resources"][shard]
            assert {k for k in p1["Properties"] if p1["Properties"][k] != p2["Properties"][k]} == {"TemplateURL"}
            assert p1.get("DependsOn") == p2.get("DependsOn")


def test_shard_assignment_is_a_fixed_function_of_the_name() -> None:
    """Pinned: changing the hash would move deployed adapters between nested stacks (which fails for named resources)."""
    assert [shard_of(n, 4) for n in ("support", "legal", "sql")] == [1, 1, 0]
    assert [shard_of(f"tenant-{i:04d}", 4) for i in range(8)] == [3, 3, 2, 1, 3, 0, 0, 2]
    assert shard_of("SUPPORT", 4) == shard_of("support", 4)  # names are case-insensitive for SageMaker
    counts = [0] * 4
    for i in range(1000):
        counts[shard_of(f"adapter-{i}", 4)] += 1
    assert min(counts) > 200  # roughly even


# ================================================================ scale


@pytest.mark.slow
def test_500_adapters_synthesize_pass_cfn_lint_and_cdk_nag() -> None:
    adapters = [LoraAdapter(name=f"tenant-{i:04d}") for i in range(500)]
    started = time.perf_counter()
    parent, shards, outdir = _synth(lambda s: _fleet(s, adapters, adapter_alarms=AdapterAlarmOptions()), nag=True)
    elapsed = time.perf_counter() - started
    report = (
        json.loads((outdir / "validation-report.json").read_text())
        if (outdir / "validation-report.json").exists()
        else {}
    )
    assert not [v for p in report.get("pluginReports", []) for v in p.get("violations", [])]
    assert len(shards) == 4
    assert sum(len(_adapters_in(s)) for s in shards.values()) == 500
    for template in (parent, *shards.values()):
        assert len(template["Resources"]) <= 500
        assert len(json.dumps(template)) < 1_000_000
        assert not _lint(template)
    assert len(parent["Resources"]) < 30  # the fleet's own stack does not grow with adapters
    assert elapsed < 120


def test_template_size_grows_linearly_with_adapters() -> None:
    def total_bytes(n: int) -> int:
        parent, shards, _ = _synth(lambda s: _fleet(s, [LoraAdapter(name=f"tenant-{i:04d}") for i in range(n)]))
        return sum(len(json.dumps(t)) for t in (parent, *shards.values()))

    small, medium, large = total_bytes(20), total_bytes(60), total_bytes(100)
    assert medium - small == large - medium  # same bytes for every adapter (names of equal length)
    assert (large - medium) / 40 < 1000


def test_too_many_adapters_in_one_stack_fail_at_synth_with_advice() -> None:
    adapters = [LoraAdapter(name=f"t{i}") for i in range(170)]  # 3 resources each: component, 5XX and wake-up alarms
    with pytest.raises(Exception, match="would hold .* resources; CloudFormation allows 500: set adapter_stacks"):
        _synth(lambda s: _fleet(s, adapters, adapter_stacks=0, **_FLEET))


# ================================================================ cost model


def test_cost_model_derives_the_seed_95_percent_at_100_adapters() -> None:
    r = compare_with_dedicated(adapters=100)
    assert (r.fleet.copies, r.fleet.instances, r.fleet.instance_type) == (4, 1, "ml.g5.12xlarge")
    assert r.fleet.hourly_usd == pytest.approx(7.09)
    assert (r.dedicated_instances, r.dedicated_hourly_usd) == (100, pytest.approx(151.5))
    assert round(r.savings_percent) == 95 and r.savings_percent == pytest.approx(100 * (1 - 7.09 / 151.5))
    # Computed, not asserted: other prices or traffic give other answers.
    assert compare_with_dedicated(adapters=100, price_per_hour=15.16).savings_percent == pytest.approx(89.99, abs=0.01)
    busy = compare_with_dedicated(adapters=100, traffic=TrafficAssumption(concurrent_requests_per_adapter=1.0))
    assert (busy.fleet.copies, busy.fleet.instances) == (20, 5) and round(busy.savings_percent) == 77


def test_cost_table_for_1_10_100_500_adapters() -> None:
    rows = {n: compare_with_dedicated(adapters=n) for n in (1, 10, 100, 500)}
    assert [(r.fleet.copies, r.fleet.instances, r.dedicated_instances) for r in rows.values()] == [
        (1, 1, 1),
        (1, 1, 10),
        (4, 1, 100),
        (20, 5, 500),
    ]
    assert rows[1].savings_percent < 0  # one adapter: a 4-GPU instance costs more than one small endpoint
    assert [round(r.savings_percent, 1) for r in rows.values()] == [-368.0, 53.2, 95.3, 95.3]
    table = cost_table()
    assert "| 100 | 4 | 1 | 7.09 | 100 | 151.50 | 95.3 % |" in table
    assert "| 500 | 20 | 5 | 35.45 | 500 | 757.50 | 95.3 % |" in table
    assert "us-east-1 on-demand prices (table as of 2025-06)" in table
    # The README shows exactly this table.
    assert table.strip() in (REPO / "README.md").read_text()


def test_cost_model_errors_and_explicit_prices() -> None:
    with pytest.raises(
        PriceUnavailableError,
        match=r"no bundled SageMaker price for ml.g5.12xlarge in eu-west-1 .* pass price_per_hour=",
    ):
        estimate_hourly_cost(adapters=10, region="eu-west-1")
    with pytest.raises(PriceUnavailableError, match="pass dedicated_price_per_hour="):
        compare_with_dedicated(adapters=10, region="eu-west-1", price_per_hour=8.0)
    r = compare_with_dedicated(adapters=10, region="eu-west-1", price_per_hour=8.0, dedicated_price_per_hour=1.7)
    assert (r.fleet.price_source, r.fleet.hourly_usd, r.dedicated_hourly_usd) == ("caller", 8.0, pytest.approx(17.0))
    with pytest.raises(PriceUnavailableError, match="pass copies_per_instance"):
        estimate_hourly_cost(adapters=10, instance_type="ml.x9.huge", price_per_hour=1.0)
    assert (
        estimate_hourly_cost(
            adapters=10, instance_type="ml.x9.huge", price_per_hour=1.0, copies_per_instance=2
        ).instances
        == 1
    )
    with pytest.raises(ValueError, match="adapters must be a positive integer"):
        estimate_hourly_cost(adapters=0)
    with pytest.raises(ValueError, match="accelerators_per_copy \\(8\\) is more than the 4 of ml.g5.12xlarge"):
        estimate_hourly_cost(adapters=1, accelerators_per_copy=8)
    big = estimate_hourly_cost(adapters=100, accelerators_per_copy=2)  # 4 copies × 2 GPUs = 2 instances
    assert (big.copies_per_instance, big.instances, big.monthly_usd) == (2, 2, pytest.approx(2 * 7.09 * 730))


def test_fleet_cost_methods_use_the_fleet_configuration() -> None:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(region="us-east-1"))
    fleet = _fleet(
        stack,
        [LoraAdapter(name=f"a{i}") for i in range(100)],
        instance_type="ml.g6.12xlarge",
        autoscaling=AutoScalingOptions(max_capacity=8, target_concurrent_requests=4),
    )
    r = fleet.compare_with_dedicated()
    assert (r.adapters, r.fleet.instance_type, r.fleet.copies, r.fleet.price_per_hour) == (
        100,
        "ml.g6.12xlarge",
        5,
        5.752,
    )
    assert r.fleet.instances == 2 and fleet.estimate_hourly_cost(adapters=8).instances == 1
    assert not r.fleet.region_assumed
    # A Region-agnostic stack (the cdk init default; the README snippet) is priced in us-east-1, and says so (E#9).
    agnostic = _fleet(cdk.Stack(cdk.App(), "T"), [])
    assumed = agnostic.compare_with_dedicated(adapters=100)
    assert (assumed.fleet.region, assumed.fleet.region_assumed) == ("us-east-1", True)
    assert assumed.savings_percent == pytest.approx(95.32, abs=0.01)
    assert agnostic.estimate_hourly_cost().region_assumed
    given = agnostic.compare_with_dedicated(region="us-east-1", adapters=100)
    assert not given.fleet.region_assumed and given.savings_percent == assumed.savings_percent


# ================================================================ validation


def _problems(**kwargs: Any) -> str:
    stack = cdk.Stack(cdk.App(), "S")
    adapters = kwargs.pop("adapters", [])
    with pytest.raises(PropsValidationError) as err:
        _fleet(stack, adapters, **kwargs)
    return str(err.value)


def test_adapter_validation_messages() -> None:
    text = _problems(
        adapters=[
            LoraAdapter(name="bad_name"),
            LoraAdapter(name="dup"),
            LoraAdapter(name="DUP"),
            LoraAdapter(name="x" * 50),
            LoraAdapter(name="outside", artifact="s3://other-bucket/adapters/x/"),
            LoraAdapter(name="file", artifact="file/adapter.bin"),
            LoraAdapter(name="dots", artifact="../escape/"),
            LoraAdapter(name="high", rank=64),
            LoraAdapter(name="zero", rank=0),
        ]
    )
    for fragment in (
        "invalid LoraAdapterFleet",
        "adapter name 'bad_name' is invalid",
        "adapter 'DUP' appears more than once (names are case-insensitive)",
        f"adapter '{'x' * 50}': its inference component name 'S-Fleet-",
        "is 67 characters; SageMaker allows 63. Shorten the name (at most 46 characters",
        "adapter 'outside': artifact 's3://other-bucket/adapters/x/' is not under the adapter store s3://weights/adapters/",
        "[LORA.ADAPTER_ARTIFACT_TARBALL] adapter 'file': artifact 'file/adapter.bin' must be one .tar.gz archive",
        "adapter 'dots': artifact '../escape/' must be a key relative to the store",
        "adapter 'high': rank 64 is above the container's max_lora_rank (16)",
        "adapter 'zero': rank must be a positive integer",
    ):
        assert fragment in text, fragment


def test_fleet_validation_messages() -> None:
    text = _problems(
        container=LlmContainer.tgi(),
        adapters=[LoraAdapter(name="a")],
        adapter_store=None,
        adapter_stacks=99,
        component_name_prefix="p" * 41,
        adapter_alarms=AdapterAlarmOptions(server_errors=0),
    )
    for fragment in (
        "container has no LoRA options",
        "adapter inference components need the LMI container (OPTION_ENABLE_LORA) or the vLLM DLC",
        "adapter_store is required for adapter inference components",
        "adapter_stacks must be between 0 (adapters in this stack) and 50, got 99",
        "component_name_prefix must be at most 40 characters",
        "adapter_alarms.server_errors must be at least 1",
    ):
        assert fragment in text, fragment
    assert "prefix must be a folder" in _problems(
        adapter_store=AdapterStore(s3.Bucket.from_bucket_name(cdk.Stack(cdk.App(), "X"), "B", "bkt"), "/")
    )


def test_static_packaging_validation_messages() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(PropsValidationError) as err:
        LoraAdapterFleet(
            stack,
            "Fleet",
            base_model=ModelSource.hugging_face("Qwen/Qwen2.5-7B-Instruct"),
            packaging=AdapterPackaging.MODEL_ARTIFACT,
            container=LlmContainer.vllm(lora=LoraOptions()),
            adapters=[LoraAdapter(name="a", artifact="a/"), LoraAdapter(name="b", rank=32)],
            adapter_store=AdapterStore(s3.Bucket.from_bucket_name(stack, "B", "bkt")),
            adapter_alarms=AdapterAlarmOptions(),
        )
    text = str(err.value)
    for fragment in (
        "MODEL_ARTIFACT packaging needs the LMI container",
        "MODEL_ARTIFACT packaging needs base_model=ModelSource.s3_prefix(...)",
        "adapter_store is not used with MODEL_ARTIFACT packaging",
        "adapter_alarms need adapter inference components",
        "adapter 'a': artifact must be unset with MODEL_ARTIFACT packaging",
        "adapter 'a': rank is required with MODEL_ARTIFACT packaging",
        "adapter 'b': rank 32 is above the container's max_lora_rank (16)",
    ):
        assert fragment in text, fragment
    empty = cdk.Stack(cdk.App(), "E")
    LoraAdapterFleet(
        empty,
        "Fleet",
        base_model=ModelSource.s3_prefix(s3.Bucket.from_bucket_name(empty, "W", "weights"), "m/"),
        packaging=AdapterPackaging.MODEL_ARTIFACT,
    )
    with pytest.raises(Exception, match="MODEL_ARTIFACT packaging needs at least one adapter"):
        cdk.App.of(empty).synth()  # type: ignore[union-attr]


def test_add_adapter_validates_and_returns_the_component() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    fleet = _fleet(stack, [LoraAdapter(name="a")])
    component = fleet.add_adapter("b", "b/v2/adapter.tar.gz", rank=8)
    assert component is fleet.adapter("b") and component.inference_component_name == f"{fleet.component_name_prefix}-b"
    assert fleet.adapter_names == ["a", "b"] and fleet.adapter_stack_of("b") is not None
    assert stack.resolve(component.metric_invocations().dimensions) == {
        "InferenceComponentName": component.inference_component_name
    }
    with pytest.raises(PropsValidationError, match="adapter 'A' appears more than once"):
        fleet.add_adapter("A")
    with pytest.raises(KeyError, match="no adapter 'c' in this fleet; adapters: a, b"):
        fleet.adapter("c")
    bare = _fleet(cdk.Stack(cdk.App(), "T"), [], adapter_store=None)
    with pytest.raises(PropsValidationError, match="add_adapter needs the fleet's adapter_store"):
        bare.add_adapter("a")
