"""The Service Catalog portfolio (stacks/catalog_stack.py): the product template (an asset of the catalog stack) is
linted, nag'ed and snapshotted; launch parameters, launch role, versions and the API Gateway account singleton.

The catalog stack itself is in the session app (tests/variants_catalog.py), so it also gets every stack's checks.
"""

from __future__ import annotations

import json
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


def _product_template(synthesis: Synthesis) -> dict[str, Any]:
    """The chat gateway product's template: ProductStack writes it as a file asset of the catalog stack."""
    (path,) = synthesis.outdir.glob(f"{CATALOG}ChatGatewayProduct*.product.template.json")
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


def test_product_template_is_cfn_lint_clean(synthesis: Synthesis) -> None:
    matches = cfnlint.api.lint(json.dumps(_product_template(synthesis)), config=_cfn_lint_config())
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert not errors, "\n".join(str(m) for m in errors)


def test_product_templates_are_nag_checked_by_the_app_gate(tmp_path: Path) -> None:
    """A finding inside the product fails synth (the session app's clean report then covers the product too)."""
    app = add_nag_gate(cdk.App(outdir=str(tmp_path), context=cdk_json_context()))
    catalog = SampleCatalogStack(app, CATALOG)
    s3.CfnBucket(catalog.chat_product_stack, "Unencrypted")
    violations, error = synth_with_report(app, tmp_path)
    assert error is not None
    paths = {v["path"] for v in violations if v["severity"] != "warning"}
    assert paths == {f"{CATALOG}/ChatGatewayProduct/Unencrypted"}


def test_launch_parameters_are_bounded_and_reach_the_gateway(synthesis: Synthesis) -> None:
    template = _product_template(synthesis)
    params = template["Parameters"]
    assert {k: (p["Type"], p["MinValue"], p["MaxValue"]) for k, p in params.items()} == {
        "ThrottlingRateLimit": ("Number", 1, 10000),
        "ThrottlingBurstLimit": ("Number", 1, 5000),  # the account burst quota, as the gateway checks literals
        "WafRateLimitPerIp": ("Number", 100, 2000000000),  # wafv2 RateBasedStatement Limit range
    }
    # Defaults: the chat settings of cdk.json (ChatSettings defaults).
    assert [params[k]["Default"] for k in params] == [20, 40, 300]
    (settings,) = one(template, "AWS::ApiGateway::Stage")["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    rules = {r["Name"]: r for r in one(template, "AWS::WAFv2::WebACL")["Rules"]}
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["Limit"] == {"Ref": "WafRateLimitPerIp"}
    assert {"OpenAIBaseUrl", "AuthMode", "InvokeArn", "ModelAliases", "AlarmTopicArn"} <= set(template["Outputs"])


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


def test_products_never_create_the_api_gateway_account(synthesis: Synthesis) -> None:
    assert not resources(_product_template(synthesis), "AWS::ApiGateway::Account")
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


def test_product_version_follows_the_library_version(synthesis: Synthesis) -> None:
    product = one(synthesis.templates[CATALOG], "AWS::ServiceCatalog::CloudFormationProduct")
    (artifact,) = product["ProvisioningArtifactParameters"]
    assert artifact["Name"] == f"v{cdk_llm_serving.__version__}"
    pyproject = (Path(cdk_llm_serving.__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f'version = "{cdk_llm_serving.__version__}"' in pyproject


def test_launch_role_is_scoped_to_the_products_resources(synthesis: Synthesis) -> None:
    template = synthesis.templates[CATALOG]
    constraint = one(template, "AWS::ServiceCatalog::LaunchRoleConstraint")
    roles = resources(template, "AWS::IAM::Role")
    launch = next(k for k in roles if k.startswith("LaunchRole"))
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


def test_build_app_adds_the_catalog_only_with_a_catalog_setting() -> None:
    assert "CatalogStack" not in {c.node.id for c in build_app(cdk.App(context=cdk_json_context())).node.children}
    app = build_app(cdk.App(context={**cdk_json_context(), "catalog": json.dumps(SAMPLE_CATALOG)}))
    assert app.node.find_child("CatalogStack") is not None
