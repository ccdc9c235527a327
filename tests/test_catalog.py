"""The Service Catalog portfolio (stacks/catalog_stack.py): the product template (an asset of the catalog stack) is
linted, nag'ed and snapshotted; launch parameters, launch role, versions and the API Gateway account singleton.

The catalog stack itself is in the session app (tests/variants_catalog.py), so it also gets every stack's checks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk import aws_s3 as s3
from syrupy.extensions.json import JSONSnapshotExtension

import cdk_llm_serving
from cdk_llm_serving import BedrockGatewayApi, BedrockModelAlias, GatewayAuth, PropsValidationError
from harness import Synthesis, cdk_json_context, flat_statements, one, resources, scrub, synth_with_report
from stacks import CatalogSettings, build_app
from stacks.nag_gate import add_nag_gate
from test_compliance import _cfn_lint_config
from variants_catalog import CATALOG_ACCOUNT, SAMPLE_CATALOG, SampleCatalogStack

CATALOG = "SampleCatalogStack"


PRODUCTS = ["ChatGatewayProduct", "RagProduct"]


def _product_template(synthesis: Synthesis, product: str = "ChatGatewayProduct") -> dict[str, Any]:
    """A product's template: ProductStack writes it as a file asset of the catalog stack."""
    (path,) = synthesis.outdir.glob(f"{CATALOG}{product}[0-9A-F]*.product.template.json")
    return json.loads(path.read_text())


@pytest.fixture
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


def test_product_template_snapshot(synthesis: Synthesis, snapshot_json) -> None:  # type: ignore[no-untyped-def]
    template = scrub(_product_template(synthesis))
    assert {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi", "AWS::WAFv2::WebACL"} <= {
        r["Type"] for r in template["Resources"].values()
    }
    assert template == snapshot_json


def test_rag_product_template_snapshot(synthesis: Synthesis, snapshot_json) -> None:  # type: ignore[no-untyped-def]
    template = scrub(_product_template(synthesis, "RagProduct"))
    assert {
        "AWS::EC2::VPC",
        "AWS::SageMaker::Endpoint",
        "AWS::Bedrock::KnowledgeBase",
        "AWS::S3Vectors::VectorBucket",
        "AWS::ApiGateway::RestApi",
    } <= {r["Type"] for r in template["Resources"].values()}
    assert template == snapshot_json


@pytest.mark.parametrize("product", PRODUCTS)
def test_product_template_is_cfn_lint_clean(synthesis: Synthesis, product: str) -> None:
    matches = cfnlint.api.lint(json.dumps(_product_template(synthesis, product)), config=_cfn_lint_config())
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert not errors, "\n".join(str(m) for m in errors)


def test_product_templates_are_nag_checked_by_the_app_gate(tmp_path: Path) -> None:
    """A finding inside the product fails synth (the session app's clean report then covers the product too)."""
    app = add_nag_gate(cdk.App(outdir=str(tmp_path), context=cdk_json_context()))
    catalog = SampleCatalogStack(app, CATALOG)
    s3.CfnBucket(catalog.chat_product_stack, "Unencrypted")
    s3.CfnBucket(catalog.rag_product_stack, "Unencrypted")
    violations, error = synth_with_report(app, tmp_path)
    assert error is not None
    paths = {v["path"] for v in violations if v["severity"] != "warning"}
    assert paths == {f"{CATALOG}/{product}/Unencrypted" for product in PRODUCTS}


def test_launch_parameters_are_bounded_and_reach_the_gateway(synthesis: Synthesis) -> None:
    template = _product_template(synthesis)
    params = template["Parameters"]
    assert {k: (p["Type"], p["MinValue"], p["MaxValue"]) for k, p in params.items()} == {
        "ThrottlingRateLimit": ("Number", 1, 10000),
        "ThrottlingBurstLimit": ("Number", 1, 5000),  # the account burst quota, as the gateway checks literals
        "WafRateLimitPerIp": ("Number", 100, 2000000000),  # wafv2 RateBasedStatement Limit range
        "TeamBudgetTokens": ("Number", 1000, 1_000_000_000_000),
        "CallerBudgetTokens": ("Number", 1000, 1_000_000_000_000),
    }
    # Defaults: the chat settings of cdk.json (ChatSettings defaults).
    assert {k: params[k]["Default"] for k in params} == {
        "ThrottlingRateLimit": 20,
        "ThrottlingBurstLimit": 40,
        "WafRateLimitPerIp": 300,
        "TeamBudgetTokens": 2_000_000,
        "CallerBudgetTokens": 200_000,
    }
    (settings,) = one(template, "AWS::ApiGateway::Stage")["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    rules = {r["Name"]: r for r in one(template, "AWS::WAFv2::WebACL")["Rules"]}
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["Limit"] == {"Ref": "WafRateLimitPerIp"}
    assert {"OpenAIBaseUrl", "AuthMode", "InvokeArn", "ModelAliases", "AlarmTopicArn"} <= set(template["Outputs"])


def test_budget_parameters_reach_the_runtime_config_and_parse(synthesis: Synthesis) -> None:
    """The budgets deploy inside GATEWAY_CONFIG (JSON text) as decimal strings, which the runtime accepts."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda" / "gateway"))
    from config import parse_config

    template = _product_template(synthesis)
    (fn,) = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if "GATEWAY_CONFIG" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    raw = fn["Properties"]["Environment"]["Variables"]["GATEWAY_CONFIG"]
    parts = raw["Fn::Join"][1]
    assert {"Ref": "TeamBudgetTokens"} in parts and {"Ref": "CallerBudgetTokens"} in parts
    values = {"TeamBudgetTokens": "1500000", "CallerBudgetTokens": "150000"}  # as CloudFormation substitutes them

    def text(part: Any) -> str:
        if isinstance(part, str):
            return part
        if "Ref" in part and part["Ref"] in values:
            return values[part["Ref"]]
        deployed = {"GuardrailArn": "arn:aws:bedrock:us-east-1:123456789012:guardrail/abcd1234efgh", "Version": "1"}
        if "Fn::GetAtt" in part and part["Fn::GetAtt"][1] in deployed:
            return deployed[part["Fn::GetAtt"][1]]
        return "resolved-" + "x" * 8  # names of the product's own resources (the governance table)

    config = parse_config(json.loads("".join(text(p) for p in parts)))
    assert config.governance is not None
    assert config.governance.team_budget.tokens == 1_500_000 and config.governance.caller_budget.tokens == 150_000


def test_literal_values_are_still_checked_at_synth() -> None:
    """Tokens skip the synth-time range checks (CloudFormation checks the parameters); literals do not."""
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(PropsValidationError) as exc:
        BedrockGatewayApi(
            stack,
            "Gw",
            models=[BedrockModelAlias(alias="m", model_id="amazon.nova-lite-v1:0")],
            throttling_burst_limit=6000,
            waf_rate_limit_per_ip=50,
        )
    text = "\n".join(exc.value.problems)
    assert (
        "throttling_burst_limit must be between 1 and 5000" in text and "waf_rate_limit_per_ip must be between" in text
    )


def test_rag_launch_parameters_are_bounded_and_reach_the_endpoint(synthesis: Synthesis) -> None:
    template = _product_template(synthesis, "RagProduct")
    params = template["Parameters"]
    assert set(params) == {"MaxInstances", "WeightsBucketName", "WeightsPrefix"}
    # Defaults: cdk.json's rag settings (RagSettings defaults); the range is RagSettings' own max_instances check.
    assert params["MaxInstances"] == {
        "Type": "Number",
        "Default": 2,
        "MinValue": 1,
        "MaxValue": 20,
        "Description": params["MaxInstances"]["Description"],
    }
    assert params["WeightsBucketName"]["Default"] == "cdk-llm-serving-model-weights"
    # ModelSource.s3_prefix appends the '/' (a token cannot be stripped at synth): the pattern refuses a trailing one.
    assert params["WeightsPrefix"]["Default"] == "qwen2.5-7b-instruct"
    prefix = re.compile(params["WeightsPrefix"]["AllowedPattern"])
    assert prefix.match("qwen2.5-7b-instruct") and prefix.match("models/qwen2.5-7b-instruct")
    assert not any(prefix.match(p) for p in ("qwen/", "/qwen", "s3://b/qwen", ""))
    bucket = re.compile(params["WeightsBucketName"]["AllowedPattern"])
    assert bucket.match("cdk-llm-serving-model-weights") and not bucket.match("Weights_Bucket")
    target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["MaxCapacity"] == {"Ref": "MaxInstances"} and target["MinCapacity"] == 1
    source = one(template, "AWS::SageMaker::Model")["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert source["S3Uri"] == {
        "Fn::Join": ["", ["s3://", {"Ref": "WeightsBucketName"}, "/", {"Ref": "WeightsPrefix"}, "/"]]
    }
    # The execution role reads exactly that folder of that bucket.
    reads = [
        json.dumps(s["Resource"])
        for p in resources(template, "AWS::IAM::ManagedPolicy").values()
        for s in flat_statements(p["Properties"]["PolicyDocument"]["Statement"])
        if s["Action"] == "s3:GetObject"
    ]
    assert any('{"Ref": "WeightsBucketName"}, "/", {"Ref": "WeightsPrefix"}, "/*"' in r for r in reads), reads
    assert {"OpenAIBaseUrl", "EndpointName", "DocumentBucket", "KnowledgeBaseId"} <= set(template["Outputs"])


def test_rag_product_vpc_uses_the_catalogs_zones_and_copies_never_collide(synthesis: Synthesis) -> None:
    template = _product_template(synthesis, "RagProduct")
    zones = {s["AvailabilityZone"] for s in (r["Properties"] for r in resources(template, "AWS::EC2::Subnet").values())}
    assert zones == set(SAMPLE_CATALOG["availability_zones"])  # named: a product template has no environment
    # Account-unique names hold the launched stack's ID, so two launches in one account do not collide.
    suffix = {
        "Fn::Select": [4, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]
    }
    named = {
        "AWS::SageMaker::Endpoint": "EndpointName",
        "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
        "AWS::Bedrock::KnowledgeBase": "Name",
        "AWS::S3Vectors::VectorBucket": "VectorBucketName",
    }
    for kind, prop in named.items():
        value = one(template, kind)[prop]
        assert "Fn::Join" in value and suffix in value["Fn::Join"][1], (kind, value)


def test_literal_max_capacity_is_still_checked_at_synth() -> None:
    """A token max_capacity skips the synth-time range checks (MaxInstances' MinValue/MaxValue check it); a literal does
    not, and a token is refused where synth derives sizes from it."""
    from cdk_llm_serving import AutoScalingOptions, HostingMode, LlmContainer, ModelSource, SageMakerLlmEndpoint

    def build(max_capacity: float, **kwargs: Any) -> None:
        stack = cdk.Stack(cdk.App(), "S")
        SageMakerLlmEndpoint(
            stack,
            "Llm",
            model=ModelSource.s3_prefix(s3.Bucket.from_bucket_name(stack, "W", "weights"), "m/"),
            container=LlmContainer.lmi(tensor_parallel_degree=1),
            instance_type="ml.g5.2xlarge",
            autoscaling=AutoScalingOptions(
                min_capacity=1,
                max_capacity=max_capacity,
                target_concurrent_requests=8,  # type: ignore[arg-type]
            ),
            **kwargs,
        )

    with pytest.raises(PropsValidationError) as exc:
        build(0)
    assert "autoscaling.max_capacity must be at least 1, got 0" in "\n".join(exc.value.problems)
    token = cdk.Token.as_number(cdk.Fn.ref("MaxInstances"))
    build(token)
    with pytest.raises(PropsValidationError) as exc:
        build(token, hosting=HostingMode.inference_component())
    assert "autoscaling.max_capacity can be a token only with real-time or async" in "\n".join(exc.value.problems)


def test_products_never_create_the_api_gateway_account(synthesis: Synthesis) -> None:
    for product in PRODUCTS:
        assert not resources(_product_template(synthesis, product), "AWS::ApiGateway::Account")
    # The catalog stack creates it once for its account (setting api_gateway_cloud_watch_role, default true).
    (account,) = resources(synthesis.templates[CATALOG], "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"


def test_two_gateways_in_one_stack_share_one_api_gateway_account() -> None:
    stack = cdk.Stack(cdk.App(), "Two")
    model = BedrockModelAlias(alias="m", model_id="amazon.nova-lite-v1:0")
    BedrockGatewayApi(stack, "A", models=[model], auth=GatewayAuth.iam())
    BedrockGatewayApi(stack, "B", models=[model], auth=GatewayAuth.iam())
    template = cdk.assertions.Template.from_stack(stack).to_json()
    assert len(resources(template, "AWS::ApiGateway::Account")) == 1
    stages = resources(template, "AWS::ApiGateway::Stage").values()
    assert len(stages) == 2 and all(s["Properties"]["MethodSettings"][0]["LoggingLevel"] == "ERROR" for s in stages)
    none = cdk.Stack(cdk.App(), "None")
    BedrockGatewayApi(none, "A", models=[model], auth=GatewayAuth.iam(), cloud_watch_role=False)
    BedrockGatewayApi(none, "B", models=[model], auth=GatewayAuth.iam(), cloud_watch_role=False)
    assert not resources(cdk.assertions.Template.from_stack(none).to_json(), "AWS::ApiGateway::Account")


def test_portfolio_has_two_products_at_the_library_version(synthesis: Synthesis) -> None:
    template = synthesis.templates[CATALOG]
    products = resources(template, "AWS::ServiceCatalog::CloudFormationProduct")
    assert sorted(p["Properties"]["Name"] for p in products.values()) == [
        "LLM RAG over enterprise documents",
        "LLM chat gateway",
    ]
    for product in products.values():
        (artifact,) = product["Properties"]["ProvisioningArtifactParameters"]
        assert artifact["Name"] == f"v{cdk_llm_serving.__version__}"
    associations = resources(template, "AWS::ServiceCatalog::PortfolioProductAssociation").values()
    assert {json.dumps(a["Properties"]["ProductId"]) for a in associations} == {
        json.dumps({"Ref": k}) for k in products
    }
    pyproject = (Path(cdk_llm_serving.__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f'version = "{cdk_llm_serving.__version__}"' in pyproject
    pyproject = (Path(cdk_llm_serving.__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f'version = "{cdk_llm_serving.__version__}"' in pyproject


def test_launch_role_is_scoped_to_the_products_resources(synthesis: Synthesis) -> None:
    template = synthesis.templates[CATALOG]
    roles = resources(template, "AWS::IAM::Role")
    launch = next(k for k in roles if k.startswith("LaunchRole"))
    constraints = [c["Properties"] for c in resources(template, "AWS::ServiceCatalog::LaunchRoleConstraint").values()]
    constraint = next(c for c in constraints if c["ProductId"] == {"Ref": next(iter(_products(template, "chat")))})
    assert constraint["RoleArn"] == {"Fn::GetAtt": [launch, "Arn"]}
    role = roles[launch]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "servicecatalog.amazonaws.com"}
    assert "FullAccess" not in json.dumps(role.get("ManagedPolicyArns", []))
    (policy,) = (v for k, v in resources(template, "AWS::IAM::ManagedPolicy").items() if k.startswith("LaunchPolicy"))
    statements = flat_statements(policy["Properties"]["PolicyDocument"]["Statement"])
    assert not [s for s in statements if "*" in s["Action"].split(":")[1] and s["Action"] != "kms:GenerateDataKey*"]
    named = [s for s in statements if s["Action"].startswith(("iam:", "lambda:", "cloudformation:Create", "sns:"))]
    assert named and all(f"SC-{CATALOG_ACCOUNT}-pp-*" in json.dumps(s["Resource"]) for s in named)
    # The product template's s3:GetObject on '*' carries AWS's documented tag condition.
    (template_read,) = [s for s in statements if s["Action"] == "s3:GetObject" and s["Resource"] == "*"]
    assert template_read["Condition"] == {"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}
    # No Account singleton or API account actions for the launch role: products never create it.
    assert not [s for s in statements if "/account" in json.dumps(s["Resource"])]


def _products(template: dict[str, Any], word: str) -> dict[str, Any]:
    products = resources(template, "AWS::ServiceCatalog::CloudFormationProduct")
    return {k: v for k, v in products.items() if word in v["Properties"]["Name"]}


def test_rag_launch_role_adds_only_what_the_rag_product_needs(synthesis: Synthesis) -> None:
    template = synthesis.templates[CATALOG]
    roles = resources(template, "AWS::IAM::Role")
    rag_role = next(k for k in roles if k.startswith("RagLaunchRole"))
    (rag_product,) = _products(template, "RAG")
    constraints = [c["Properties"] for c in resources(template, "AWS::ServiceCatalog::LaunchRoleConstraint").values()]
    assert {"ProductId": {"Ref": rag_product}, "RoleArn": {"Fn::GetAtt": [rag_role, "Arn"]}} in [
        {k: c[k] for k in ("ProductId", "RoleArn")} for c in constraints
    ]
    role = roles[rag_role]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "servicecatalog.amazonaws.com"}
    policies = resources(template, "AWS::IAM::ManagedPolicy")
    chat_policy = next(k for k in policies if k.startswith("LaunchPolicy"))
    rag_policy = next(k for k in policies if k.startswith("RagLaunchPolicy"))
    # The gateway part is the chat product's policy itself; the RAG part is a second policy (6,144 characters each).
    assert role["ManagedPolicyArns"] == [{"Ref": chat_policy}, {"Ref": rag_policy}]
    assert "FullAccess" not in json.dumps(role["ManagedPolicyArns"])
    document = policies[rag_policy]["Properties"]["PolicyDocument"]
    assert len(json.dumps(cdk.Stack(cdk.App()).resolve(document))) < 6144
    statements = flat_statements(document["Statement"])
    actions = {s["Action"] for s in statements}
    assert not [a for a in actions if "*" in a]
    assert {a.split(":")[0] for a in actions} == {
        "iam",
        "ec2",
        "sagemaker",
        "application-autoscaling",
        "s3",
        "s3vectors",
        "bedrock",
        "states",
        "events",
        "cloudwatch",
        "kms",
    }
    # Roles are passed only if they are the product's own, and only to the services that run as them.
    (passing,) = {json.dumps(s["Condition"]) for s in statements if s["Action"] == "iam:PassRole"}
    assert "lambda" not in passing and "sagemaker.amazonaws.com" in passing
    assert all(
        f"SC-{CATALOG_ACCOUNT}-pp-*" in json.dumps(s["Resource"]) for s in statements if s["Action"] == "iam:PassRole"
    )
    # Named resources are scoped by their name prefix: endpoints, vector buckets, buckets, rules, dashboards.
    by_action: dict[str, str] = {}
    for s in statements:
        by_action[s["Action"]] = by_action.get(s["Action"], "") + json.dumps(s["Resource"])
    assert "endpoint/rag-llm-*" in by_action["sagemaker:CreateEndpoint"]
    assert "bucket/rag-documents-*-vectors" in by_action["s3vectors:CreateVectorBucket"]
    assert f"s3:::sc-{CATALOG_ACCOUNT}-pp-*" in by_action["s3:CreateBucket"]
    assert f"rule/SC-{CATALOG_ACCOUNT}-pp-*" in by_action["events:PutRule"]
    assert by_action["kms:CreateGrant"] != '"*"'
    # '*' only where AWS has no resource type: Describe actions and CreateKnowledgeBase.
    star = {s["Action"] for s in statements if s["Resource"] == "*"}
    assert star and all(a.split(":")[1].startswith("Describe") or a == "bedrock:CreateKnowledgeBase" for a in star)
    # No CloudFormation, IAM role or API Gateway actions of its own: those come from the chat policy.
    assert not [a for a in actions if a.startswith(("cloudformation:", "apigateway:", "iam:CreateRole"))]


def test_asset_bucket_is_named_private_and_tls_only(synthesis: Synthesis) -> None:
    template = synthesis.templates[CATALOG]
    bucket = resources(template, "AWS::S3::Bucket")["AssetBucket1D025086"]["Properties"]
    assert bucket["BucketName"] == f"cdk-llm-serving-catalog-assets-{CATALOG_ACCOUNT}-us-east-1"
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert "LoggingConfiguration" in bucket and bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    lambda_code = next(iter(resources(_product_template(synthesis), "AWS::Lambda::Function").values()))
    assert lambda_code["Properties"]["Code"]["S3Bucket"] == bucket["BucketName"]


def test_consumers_get_portfolio_access(synthesis: Synthesis) -> None:
    association = one(synthesis.templates[CATALOG], "AWS::ServiceCatalog::PortfolioPrincipalAssociation")
    assert association["PrincipalARN"] == SAMPLE_CATALOG["consumer_role_arns"][0]


def test_catalog_settings_are_checked_and_named() -> None:
    with pytest.raises(PropsValidationError) as exc:
        CatalogSettings.from_context({"account": "12", "region": "useast1", "consumer_role_arns": ["app-team"], "x": 1})
    assert exc.value.subject == "cdk.json context 'catalog'"
    text = "\n".join(exc.value.problems)
    assert "unknown setting 'x'" in text
    assert "setting 'account' must be a 12-digit AWS account ID" in text
    assert "setting 'region' must be a Region name like 'us-east-1', got \"useast1\"" in text
    assert "setting 'consumer_role_arns' must be a list of IAM role ARNs" in text
    assert "setting 'availability_zones' must name at least 2 zones of useast1" in text
    with pytest.raises(PropsValidationError) as exc:
        CatalogSettings.from_context({**SAMPLE_CATALOG, "availability_zones": ["us-east-1a", "us-west-2b"]})
    assert exc.value.problems == [
        "setting 'availability_zones' must name at least 2 zones of us-east-1 like 'us-east-1a' for the RAG product's "
        'VPC (no lookups at synth), got ["us-east-1a", "us-west-2b"]: aws ec2 describe-availability-zones '
        "--region us-east-1"
    ]


def test_build_app_adds_the_catalog_only_with_a_catalog_setting() -> None:
    assert "CatalogStack" not in {c.node.id for c in build_app(cdk.App(context=cdk_json_context())).node.children}
    app = build_app(cdk.App(context={**cdk_json_context(), "catalog": json.dumps(SAMPLE_CATALOG)}))
    assert app.node.find_child("CatalogStack") is not None
