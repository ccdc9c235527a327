"""RagStack: intent assertions (no internet path, private API, retrieval wiring, rollouts) and its settings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_llm_serving import PropsValidationError
from harness import Synthesis, flat_statements, one, resources, text
from stacks import RagSettings


@pytest.fixture(scope="module")
def rag(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["RagStack"]


def test_no_internet_path(rag: dict[str, Any]) -> None:
    for rtype in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway"):
        assert not resources(rag, rtype), rtype
    routes = resources(rag, "AWS::EC2::Route")
    assert not routes  # isolated route tables only carry the S3 gateway endpoint (a prefix-list entry, not a Route)
    subnets = resources(rag, "AWS::EC2::Subnet")
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())


def test_vpc_endpoints_cover_what_the_private_path_needs(rag: dict[str, Any]) -> None:
    services = sorted(
        text(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1]
        if "sagemaker" not in text(e["Properties"]["ServiceName"])
        else "sagemaker.runtime"
        for e in resources(rag, "AWS::EC2::VPCEndpoint").values()
    )
    assert services == ["bedrock-agent-runtime", "execute-api", "s3", "sagemaker.runtime"]
    gateway = [
        e["Properties"]
        for e in resources(rag, "AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType") == "Gateway"
    ]
    assert len(gateway) == 1 and text(gateway[0]["ServiceName"]).endswith(".s3")


def test_model_runs_isolated_in_the_vpc_with_safe_rollouts(rag: dict[str, Any]) -> None:
    model = one(rag, "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True and len(model["VpcConfig"]["Subnets"]) == 2
    assert model["PrimaryContainer"]["Environment"]["OPTION_MAX_MODEL_LEN"] == "8192"
    source = model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]  # uncompressed weights, mounted
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")
    assert text(source["S3Uri"]) == "s3://cdk-llm-serving-model-weights/qwen2.5-7b-instruct/"
    endpoint = one(rag, "AWS::SageMaker::Endpoint")
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    # The variant autoscales from 1 instance: a canary (a part of the new fleet's instances, at most half) cannot
    # exist there (SAGEMAKER.TRAFFIC_SHIFT_SIZE), so blue/green all at once, baked and rolled back on the alarms.
    assert policy["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE" and policy["TerminationWaitInSeconds"] == 300
    assert one(rag, "AWS::ApplicationAutoScaling::ScalableTarget")["MinCapacity"] == 1
    alarms = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert len(alarms) == 2
    statements = [
        s
        for p in resources(rag, "AWS::IAM::ManagedPolicy").values()
        for s in flat_statements(p["Properties"]["PolicyDocument"]["Statement"])
    ]
    assert {s["Resource"]["Fn::GetAtt"][0] for s in statements if s["Action"] == "cloudwatch:DescribeAlarms"} == {
        a["AlarmName"]["Ref"] for a in alarms
    }
    config = one(rag, "AWS::SageMaker::EndpointConfig")
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    assert one(rag, "AWS::SageMaker::ModelPackageGroup")["ModelPackageGroupName"].startswith("RagStack-")


def test_weights_are_read_only_from_a_bucket_of_this_account(rag: dict[str, Any]) -> None:
    # The default weights_bucket_name is a global name anyone can create first: reads are conditioned on the owner.
    reads = [
        s
        for p in resources(rag, "AWS::IAM::ManagedPolicy").values()
        for s in flat_statements(p["Properties"]["PolicyDocument"]["Statement"])
        if s["Action"] in ("s3:GetObject", "s3:ListBucket") and "cdk-llm-serving-model-weights" in text(s["Resource"])
    ]
    assert len(reads) == 2
    assert all(s["Condition"]["StringEquals"] == {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}} for s in reads)


def test_private_api_reaches_only_through_the_vpc_endpoint(rag: dict[str, Any]) -> None:
    api = one(rag, "AWS::ApiGateway::RestApi")
    assert api["EndpointConfiguration"]["Types"] == ["PRIVATE"]
    statements = api["Policy"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and all("aws:SourceVpce" in json.dumps(s["Condition"]) for s in deny)
    methods = [
        m["Properties"]
        for m in resources(rag, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] in ("POST", "GET")
        and m["Properties"].get("Integration", {}).get("Type") != "MOCK"
    ]
    assert methods and all(m["AuthorizationType"] == "AWS_IAM" for m in methods)
    function = one(rag, "AWS::Lambda::Function")
    assert len(function["VpcConfig"]["SubnetIds"]) == 2


def test_gateway_routes_rag_alias_through_retrieval_to_the_endpoint(rag: dict[str, Any]) -> None:
    function = one(rag, "AWS::Lambda::Function")
    config = json.loads(text(function["Environment"]["Variables"]["GATEWAY_CONFIG"]))
    endpoint_name = one(rag, "AWS::SageMaker::Endpoint")["EndpointName"]
    (kb_id,) = resources(rag, "AWS::Bedrock::KnowledgeBase")
    by_alias = {m["alias"]: m for m in config["models"]}
    # containerKind: the gateway follows the LMI container's request rules (top_p > 0).
    assert by_alias["rag"]["target"] == {"type": "sagemaker", "endpointName": endpoint_name, "containerKind": "lmi"}
    assert by_alias["rag"]["retrieval"] == {"knowledgeBaseId": f"{{{kb_id}.KnowledgeBaseId}}", "numberOfResults": 5}
    assert "retrieval" not in by_alias["llm"]


def test_gateway_permissions_are_exactly_the_endpoint_and_the_index(rag: dict[str, Any]) -> None:
    docs = [
        p["Properties"]["PolicyDocument"]
        for p in resources(rag, "AWS::IAM::ManagedPolicy").values()
        if "allowlist" in p["Properties"].get("Description", "")
    ]
    (doc,) = docs
    actions = {
        a: s for s in doc["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert not any(a.startswith("bedrock:Invoke") for a in actions)
    endpoint_name = one(rag, "AWS::SageMaker::Endpoint")["EndpointName"]
    assert text(actions["sagemaker:InvokeEndpointWithResponseStream"]["Resource"]).endswith(
        f":endpoint/{endpoint_name.lower()}"
    )
    (kb_id,) = resources(rag, "AWS::Bedrock::KnowledgeBase")
    assert actions["bedrock:Retrieve"]["Resource"] == {"Fn::GetAtt": [kb_id, "KnowledgeBaseArn"]}


def test_dashboard_and_alarms_notify_the_topic(rag: dict[str, Any]) -> None:
    body = text(one(rag, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in (
        "ModelLatency",
        "Invocation5XXErrors",
        "GPUMemoryUtilization",
        "TimeToFirstToken",
        "ExecutionsFailed",
    ):
        assert metric in body, metric
    (topic,) = resources(rag, "AWS::SNS::Topic")
    for alarm in resources(rag, "AWS::CloudWatch::Alarm").values():
        assert {"Ref": topic} in alarm["Properties"].get("AlarmActions", []), alarm["Properties"].get(
            "AlarmDescription"
        )


def test_rag_settings_from_context() -> None:
    assert RagSettings.from_context({}) == RagSettings()
    custom = RagSettings.from_context({"weights_prefix": "llama-3.1-8b/", "max_instances": 4})
    assert custom.weights_prefix == "llama-3.1-8b/" and custom.max_instances == 4
    with pytest.raises(PropsValidationError) as info:
        RagSettings.from_context(
            {
                "weights_prefix": "/x",
                "max_instances": 0,
                "max_model_len": 100,
                "ingestion_schedule_hours": -1,
                "colour": "blue",
            }
        )
    message = str(info.value)
    assert "unknown setting 'colour'" in message
    with pytest.raises(PropsValidationError) as info:
        RagSettings.from_context(
            {"weights_prefix": "/x", "max_instances": 0, "max_model_len": 100, "ingestion_schedule_hours": -1}
        )
    assert len(info.value.problems) == 4
    for expected in (
        "'weights_prefix' must be a folder",
        "'max_instances' must be between 1 and 20",
        "'max_model_len' must be between 512 and 131072",
        "'ingestion_schedule_hours' must be 0 (off) or more",
    ):
        assert expected in str(info.value)
