"""The delivery pipeline (stacks/pipeline_stack.py): its shape, the environments' settings, the cdk-nag gate, offline
synth, settings validation, and the smoke-test script it runs.

The sample pipeline (tests/variants_pipeline.py) is in the session app, so the pipeline stack and every stack of its
stages also get the snapshot, cdk-nag and cfn-lint checks of tests/test_snapshots.py and tests/test_compliance.py.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from cdk_llm_serving import PropsValidationError
from harness import REPO, Synthesis, cdk_json_context, one, resources, scrub, stack_templates, synth_with_report
from stacks import PipelineSettings, PipelineStack, build_app
from stacks.nag_gate import add_nag_gate
from stacks.pipeline_stack import CDK_ASSETS_VERSION, CLI_VERSION, STACK_KINDS, SYNTH_COMMANDS, _StackKind
from variants_pipeline import PROD_ACCOUNT, SAMPLE_PIPELINE, STAGING_ACCOUNT, SamplePipelineStack

PIPELINE = "SamplePipelineStack"


def _pipeline(synthesis: Synthesis) -> dict[str, Any]:
    return one(synthesis.templates[PIPELINE], "AWS::CodePipeline::Pipeline")


def _actions(synthesis: Synthesis) -> dict[str, list[tuple[str, str, int]]]:
    return {
        stage["Name"]: [(a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"]) for a in stage["Actions"]]
        for stage in _pipeline(synthesis)["Stages"]
    }


def _buildspec(synthesis: Synthesis, project_prefix: str) -> str:
    (project,) = (
        v
        for k, v in resources(synthesis.templates[PIPELINE], "AWS::CodeBuild::Project").items()
        if k.startswith(project_prefix)
    )
    return json.dumps(project["Properties"]["Source"]["BuildSpec"])


# ------------------------------------------------------------------------------------------- shape


def test_pipeline_runs_source_synth_selfmutation_then_environments_in_order(synthesis: Synthesis) -> None:
    actions = _actions(synthesis)
    assert list(actions) == ["Source", "Build", "UpdatePipeline", "Assets", "staging", "prod"]
    assert actions["Source"] == [("example-org_cdk-llm-serving", "CodeStarSourceConnection", 1)]
    assert actions["UpdatePipeline"] == [("SelfMutate", "CodeBuild", 1)]
    # Manual approval only before prod (the environment named prod), and first in that stage.
    assert actions["prod"][0] == ("Approve-prod", "Manual", 1)
    assert not [a for a in actions["staging"] if a[1] == "Manual"]
    # The smoke test runs after every deployment of its stage.
    for stage in ("staging", "prod"):
        deploys = [order for name, provider, order in actions[stage] if provider == "CloudFormation"]
        (smoke,) = [order for name, _, order in actions[stage] if name == f"SmokeTest-{stage}"]
        assert smoke > max(deploys)


def test_synth_step_runs_exactly_the_readme_commands_into_cdk_out(synthesis: Synthesis) -> None:
    spec = json.loads(json.loads(_buildspec(synthesis, "PipelineBuildSynth")))
    assert spec["phases"] == {"build": {"commands": ["make test", "make synth"]}}
    assert list(SYNTH_COMMANDS) == ["make test", "make synth"]
    assert spec["artifacts"]["base-directory"] == "cdk.out"  # where `make synth` (cdk synth) writes
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make synth" in readme
    makefile = (REPO / "Makefile").read_text()
    assert "synth: setup\n\t$(CDK) synth" in makefile and "cdk.out" in makefile  # cdk synth's default outdir


def test_self_mutation_uses_the_pinned_cli(synthesis: Synthesis) -> None:
    package = json.loads((REPO / "package.json").read_text())
    assert CLI_VERSION == package["devDependencies"]["aws-cdk"]
    assert f"npm install -g aws-cdk@{CLI_VERSION}" in _buildspec(synthesis, "PipelineUpdatePipelineSelfMutation")


def test_asset_publishing_uses_a_pinned_cdk_assets(synthesis: Synthesis) -> None:
    # CDK Pipelines installs `cdk-assets@latest` unless told otherwise (aws-cdk-lib 2.275 codepipeline.js:
    # `cdkAssetsCliVersion ?? "latest"`): no step of ours may install an unpinned CLI.
    specs = [
        json.dumps(p["Properties"]["Source"]["BuildSpec"])
        for p in resources(synthesis.templates[PIPELINE], "AWS::CodeBuild::Project").values()
    ]
    assets = [s for s in specs if "cdk-assets" in s]
    assert assets and all(f"npm install -g cdk-assets@{CDK_ASSETS_VERSION}" in s for s in assets)
    assert not [s for s in specs if "@latest" in s]


def test_cross_account_artifacts_are_kms_encrypted_with_rotation(synthesis: Synthesis) -> None:
    template = synthesis.templates[PIPELINE]
    keys = resources(template, "AWS::KMS::Key")
    assert keys and all(k["Properties"]["EnableKeyRotation"] for k in keys.values())
    store = _pipeline(synthesis)["ArtifactStores"]
    assert all(s["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS" for s in store)


def test_each_stage_deploys_its_stacks_to_its_account_and_region(synthesis: Synthesis) -> None:
    envs = {}
    for assembly in ("assembly-SamplePipelineStack-staging", "assembly-SamplePipelineStack-prod"):
        manifest = json.loads((synthesis.outdir / assembly / "manifest.json").read_text())
        for art in manifest["artifacts"].values():
            if art["type"] == "aws:cloudformation:stack":
                envs[art["displayName"]] = (art["environment"], art["properties"]["stackName"])
    assert envs == {
        "SamplePipelineStack/staging/ChatStack": (f"aws://{STAGING_ACCOUNT}/us-east-1", "staging-ChatStack"),
        "SamplePipelineStack/staging/RagStack": (f"aws://{STAGING_ACCOUNT}/us-east-1", "staging-RagStack"),
        "SamplePipelineStack/prod/ChatStack": (f"aws://{PROD_ACCOUNT}/us-west-2", "prod-ChatStack"),
    }


def test_each_environment_gets_its_own_settings(synthesis: Synthesis) -> None:
    def stage(name: str) -> dict[str, Any]:
        return one(synthesis.templates[f"SamplePipelineStack-{name}-ChatStack"], "AWS::ApiGateway::Stage")

    # staging overrides chat.throttling_* and chat.auth; prod keeps cdk.json's chat settings (ChatSettings defaults).
    assert [(m["ThrottlingRateLimit"], m["ThrottlingBurstLimit"]) for m in stage("staging")["MethodSettings"]] == [
        (5, 10)
    ]
    assert [(m["ThrottlingRateLimit"], m["ThrottlingBurstLimit"]) for m in stage("prod")["MethodSettings"]] == [
        (20, 40)
    ]
    staging = synthesis.templates["SamplePipelineStack-staging-ChatStack"]["Outputs"]
    prod = synthesis.templates["SamplePipelineStack-prod-ChatStack"]["Outputs"]
    assert (staging["AuthMode"]["Value"], prod["AuthMode"]["Value"]) == ("iam", "cognito")


def test_stage_settings_are_merged_over_the_stacks_context() -> None:
    """Overrides win per key; keys they do not name keep the stack's own context value."""
    settings = PipelineSettings.from_context(
        SAMPLE_PIPELINE, {"chat": {"max_messages": 12, "throttling_rate_limit": 50}}.get
    )
    staging, prod = (
        env.stack_settings({"chat": {"max_messages": 12, "throttling_rate_limit": 50}}.get)
        for env in settings.environments
    )
    assert (staging["ChatStack"].max_messages, staging["ChatStack"].throttling_rate_limit) == (12, 5)
    assert (prod["ChatStack"].max_messages, prod["ChatStack"].throttling_rate_limit) == (12, 50)


def test_smoke_test_reads_the_gateway_outputs_and_assumes_only_its_role(synthesis: Synthesis) -> None:
    template = synthesis.templates[PIPELINE]
    staging = _buildspec(synthesis, "PipelinestagingSmokeTest")
    assert "scripts/smoke_test.py" in staging and "cdk-llm-serving-smoke-staging" in staging
    assert "--role-arn" not in _buildspec(synthesis, "PipelineprodSmokeTest")  # cognito: no signed call
    # envFromCfnOutputs: the stage's ChatStack outputs become the step's variables.
    (project,) = (
        v for k, v in resources(template, "AWS::CodeBuild::Project").items() if k.startswith("PipelinestagingSmokeTest")
    )
    assert project["Properties"]["Source"]["Type"] == "CODEPIPELINE"
    configs = [
        a["Configuration"]
        for s in _pipeline(synthesis)["Stages"]
        for a in s["Actions"]
        if a["Name"] == "SmokeTest-staging"
    ]
    env_vars = json.loads(configs[0]["EnvironmentVariables"])
    assert {v["name"] for v in env_vars} >= {"OPENAI_BASE_URL", "AUTH_MODE", "MODEL_ALIASES"}
    # The smoke role in staging's ChatStack: the pipeline account may assume it; it may only GET /v1/models.
    chat = synthesis.templates["SamplePipelineStack-staging-ChatStack"]
    (role,) = [v["Properties"] for k, v in resources(chat, "AWS::IAM::Role").items() if k.startswith("SmokeTestRole")]
    assert role["RoleName"] == "cdk-llm-serving-smoke-staging"
    assert "111111111111" in json.dumps(role["AssumeRolePolicyDocument"])
    (policy,) = [v for k, v in resources(chat, "AWS::IAM::ManagedPolicy").items() if k.startswith("SmokeTestPolicy")]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == ["execute-api:Invoke"]
    assert "/GET/v1/models" in json.dumps(statements) and "chat/completions" not in json.dumps(statements)
    assert not [
        r
        for r in resources(synthesis.templates["SamplePipelineStack-prod-ChatStack"], "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName", "").startswith("cdk-llm-serving-smoke")
    ]


# ---------------------------------------------------------------------------------------- offline


def test_synth_needs_no_lookups(synthesis: Synthesis) -> None:
    """No assembly (top level or stage) asks for context (a lookup): Availability Zones come from the settings."""
    manifests = [synthesis.outdir / "manifest.json", *synthesis.outdir.glob("assembly-*/manifest.json")]
    assert len(manifests) >= 3
    for path in manifests:
        assert "missing" not in json.loads(path.read_text()), path
    rag = json.dumps(synthesis.templates["SamplePipelineStack-staging-RagStack"])
    assert "dummy1a" not in rag and '"us-east-1a"' in rag and '"us-east-1b"' in rag


def test_pipeline_synth_is_deterministic(synthesis: Synthesis, tmp_path: Path) -> None:
    """A second, separate synth of the pipeline gives the same templates (pipeline and stages)."""
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    SamplePipelineStack(app, PIPELINE)
    app.synth()
    again = stack_templates(tmp_path)
    names = [n for n in again if n.startswith(PIPELINE) or n.startswith("cross-region-stack-")]
    assert len(names) == 5
    for name in names:
        assert scrub(again[name]) == scrub(synthesis.templates[name]), name


def test_build_app_adds_the_pipeline_only_with_a_pipeline_setting() -> None:
    plain = build_app(cdk.App(context=cdk_json_context()))
    assert "PipelineStack" not in {c.node.id for c in plain.node.children}
    app = build_app(cdk.App(context={**cdk_json_context(), "pipeline": json.dumps(SAMPLE_PIPELINE)}))
    pipeline = app.node.find_child("PipelineStack")
    assert isinstance(pipeline, PipelineStack)
    assert set(pipeline.stages) == {"staging", "prod"}


# ----------------------------------------------------------------------------------------- nag gate


class _Unencrypted(cdk.Stack):
    """A stack with a deliberately non-compliant bucket (no TLS-only policy, no logging, no versioning)."""

    def __init__(self, scope: cdk.Stage, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        s3.CfnBucket(self, "Unencrypted")


class _UnencryptedStack(_Unencrypted):
    """_Unencrypted as an environment's stack kind (stages synthesize when they are added to the pipeline, so the
    finding must be in a stack the stage builds)."""

    def __init__(self, scope: cdk.Stage, construct_id: str, *, settings: Any = None) -> None:
        super().__init__(scope, construct_id)


def test_nag_gate_on_the_app_fails_synth_for_a_finding_inside_a_pipeline_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(STACK_KINDS, "UnencryptedStack", _StackKind(_UnencryptedStack, lambda raw: None, "unencrypted"))
    single = copy.deepcopy(SAMPLE_PIPELINE)
    single["environments"] = [
        {"name": "staging", "account": STAGING_ACCOUNT, "region": "us-east-1", "stacks": ["UnencryptedStack"]}
    ]
    app = add_nag_gate(cdk.App(outdir=str(tmp_path), context=cdk_json_context()))
    PipelineStack(app, "Gate", settings=PipelineSettings.from_context(single, app.node.try_get_context))
    violations, error = synth_with_report(app, tmp_path)
    assert error is not None  # `cdk synth` exits non-zero, so the pipeline's synth step fails
    paths = {v["path"] for v in violations if v["severity"] != "warning"}
    assert paths, error
    assert all(p.startswith("Gate/staging/UnencryptedStack/Unencrypted") for p in paths), paths


class _StageGatedUnencryptedStack(_UnencryptedStack):
    """The same stack, registering cdk-nag on its Stage (the Aspects-era advice: "put the checks inside the Stage")."""

    def __init__(self, scope: cdk.Stage, construct_id: str, *, settings: Any = None) -> None:
        from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

        cdk.Validations.of(scope).add_plugins(AwsSolutionsChecks(), NIST80053R5Checks())
        super().__init__(scope, construct_id)


def test_nag_gate_on_a_pipeline_stage_reports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the gate is registered on the App (stacks/nag_gate.py): cdk-nag 3 registered on a pipeline's Stage writes
    an empty report and lets synth pass with the same non-compliant bucket, a false green (measured in
    review-2026-12/F-anchors-research.md §0.1; CDK Pipelines synthesizes each stage when it is added)."""
    monkeypatch.setitem(
        STACK_KINDS, "UnencryptedStack", _StackKind(_StageGatedUnencryptedStack, lambda raw: None, "unencrypted")
    )
    single = copy.deepcopy(SAMPLE_PIPELINE)
    single["environments"] = [
        {"name": "staging", "account": STAGING_ACCOUNT, "region": "us-east-1", "stacks": ["UnencryptedStack"]}
    ]
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())  # no gate on the App
    PipelineStack(app, "Gate", settings=PipelineSettings.from_context(single, app.node.try_get_context))
    violations, error = synth_with_report(app, tmp_path)
    assert (violations, error) == ([], None)
    reports = list(tmp_path.rglob("validation-report.json"))
    assert all(json.loads(r.read_text())["pluginReports"] == [] for r in reports), reports


# --------------------------------------------------------------------------------------- validation


def _problems(raw: Any) -> list[str]:
    with pytest.raises(PropsValidationError) as exc:
        PipelineSettings.from_context(raw)
    assert exc.value.subject == "cdk.json context 'pipeline'"
    return exc.value.problems


def _with(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(SAMPLE_PIPELINE)
    raw.update(changes)
    return raw


def test_accounts_regions_and_names_are_checked_and_named() -> None:
    envs = copy.deepcopy(SAMPLE_PIPELINE["environments"])
    envs[0]["account"] = "2222"
    envs[1]["region"] = "US-West-2"
    envs.append({"name": "qa env", "account": "444444444444", "region": "us-east-1"})
    problems = _problems(_with(account=111111111111, environments=envs))
    text = "\n".join(problems)
    assert "setting 'account' must be a 12-digit AWS account ID (a string), got 111111111111" in text
    assert "environments[0] (staging) 'account' must be a 12-digit AWS account ID (a string), got \"2222\"" in text
    assert "environments[1] (prod) 'region' must be a Region name like 'us-east-1', got \"US-West-2\"" in text
    # a CodePipeline stage name and a CloudFormation stack-name prefix: letters, digits, hyphens
    assert "environments[2] 'name' must start with a letter" in text


def test_vpc_stacks_need_availability_zones_of_their_region() -> None:
    envs = copy.deepcopy(SAMPLE_PIPELINE["environments"])
    del envs[0]["availability_zones"]
    envs[1]["stacks"] = ["ChatStack", "InferentiaStack"]
    envs[1]["availability_zones"] = ["us-east-1a", "us-west-2b"]
    text = "\n".join(_problems(_with(environments=envs)))
    assert "environments[0] (staging) 'availability_zones' needs at least 2 zones of us-east-1 for RagStack" in text
    assert "environments[1] (prod) 'availability_zones' must be zone names of us-west-2" in text


def test_source_kinds_stacks_and_overrides_are_checked() -> None:
    envs = copy.deepcopy(SAMPLE_PIPELINE["environments"])
    envs[0]["stacks"] = ["ChatStack", "ReportingStack"]
    envs[1]["settings"] = {"chat": {"throttling_rate_limit": "fast", "auth": "saml"}}
    source = {**SAMPLE_PIPELINE["source"], "bucket": "my-source-bucket"}
    problems = _problems(_with(source=source, environments=envs))
    text = "\n".join(problems)
    assert "setting 'source' must have exactly one of 'connection_arn'" in text
    assert "environments[0] (staging) 'stacks' must be a non-empty list of ChatStack, RagStack" in text
    # the stack's own checks run on the merged settings, named with the environment
    assert "environments[1] (prod): cdk.json context 'chat': setting 'throttling_rate_limit' must be float" in text
    assert (
        "environments[1] (prod): cdk.json context 'chat': setting 'auth' must be one of cognito, iam, api_keys, none"
        in text
    )
    bad_arn = {"connection_arn": "arn:aws:s3:::bucket", "repository": "just-a-name"}
    text = "\n".join(_problems(_with(source=bad_arn)))
    assert "setting 'source.connection_arn' must be a connection ARN" in text
    assert "setting 'source.repository' must be 'owner/name' for a connection, got 'just-a-name'" in text


def test_other_sources_and_same_account_without_cross_account_keys() -> None:
    s3_source = PipelineSettings.from_context(_with(source={"bucket": "src-bucket", "key": "repo.zip"}))
    assert s3_source.source.bucket == "src-bucket"
    commit = PipelineSettings.from_context(_with(source={"codecommit": True, "repository": "serving", "branch": "dev"}))
    assert commit.source.repository == "serving"
    assert "setting 'cross_account_keys' must be true when an environment is in another account" in _problems(
        _with(cross_account_keys=False)
    )
    text = "\n".join(_problems(_with(pipeline_name="my pipeline", cross_account_keys="no")))
    assert "setting 'pipeline_name' must be 1-100 of letters, digits" in text  # botocore codepipeline PipelineName
    assert "setting 'cross_account_keys' must be true or false, got \"no\"" in text
    missing = _problems({"account": "111111111111"})
    assert missing == [
        "setting 'region' is required",
        "setting 'source' is required",
        "setting 'environments' is required",
    ]


# -------------------------------------------------------------------------------------- smoke script


def _load_smoke() -> Any:
    spec = importlib.util.spec_from_file_location("smoke_test", REPO / "scripts" / "smoke_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["smoke_test"] = module
    spec.loader.exec_module(module)
    return module


smoke_test = _load_smoke()


class _Gateway:
    """/prod/health (mock, no auth) and /prod/v1/models behind SigV4 (verified) on 127.0.0.1."""

    def __init__(self, healthy: bool = True) -> None:
        from test_call_gateway import CREDS, verify_sigv4

        outer = self
        self.paths: list[tuple[str, bool]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                headers = {k.lower(): v for k, v in self.headers.items()}
                signed = "authorization" in headers
                outer.paths.append((self.path, signed))
                if self.path == "/prod/health":
                    return self._send(200 if healthy else 500, {"status": "ok"})
                url = f"http://{headers['host']}{self.path}"
                if not signed or verify_sigv4("GET", url, headers, b"", CREDS):
                    return self._send(403, {"message": "Missing Authentication Token"})
                models = [
                    {"id": a, "object": "model", "created": 0, "owned_by": "bedrock"}
                    for a in ("chat-fast", "chat-smart")
                ]
                return self._send(200, {"object": "list", "data": models})

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/prod/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def gateway() -> Iterator[_Gateway]:
    gw = _Gateway()
    yield gw
    gw.server.shutdown()
    gw.server.server_close()


def test_smoke_test_passes_health_refusal_and_signed_model_list(gateway: _Gateway) -> None:
    from test_call_gateway import CREDS

    failed = smoke_test.smoke(
        gateway.base_url, auth="iam", expect_models=["chat-fast", "chat-smart"], credentials=CREDS, region="us-east-1"
    )
    assert failed == []
    assert gateway.paths == [("/prod/health", False), ("/prod/v1/models", False), ("/prod/v1/models", True)]


def test_smoke_test_fails_on_a_missing_alias_or_an_unhealthy_api(gateway: _Gateway) -> None:
    from test_call_gateway import CREDS

    failed = smoke_test.smoke(
        gateway.base_url, auth="iam", expect_models=["chat-fast", "chat-lite"], credentials=CREDS, region="us-east-1"
    )
    assert failed == ["signed GET /v1/models lists ['chat-fast', 'chat-smart'], missing ['chat-lite']"]
    bad = _Gateway(healthy=False)
    try:
        assert smoke_test.smoke(bad.base_url, auth="cognito", expect_models=[]) == [
            "GET /health answered 500, expected 200"
        ]
    finally:
        bad.server.shutdown()
        bad.server.server_close()
