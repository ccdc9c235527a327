"""The wheel works outside this repository: constructs plus the Lambda runtime they deploy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from harness import REPO, feature_flags

CONSUMER_APP = textwrap.dedent(
    """
    import json, sys
    import aws_cdk as cdk
    import cdk_llm_serving
    from aws_cdk import aws_s3 as s3
    from cdk_llm_serving import BedrockGatewayApi, BedrockModelAlias, GatewayAuth, ModelSource, SageMakerLlmEndpoint
    from cdk_llm_serving._assets import runtime_dir

    app = cdk.App(outdir="cdk.out")
    stack = cdk.Stack(app, "Consumer")
    BedrockGatewayApi(stack, "Gateway", auth=GatewayAuth.iam(),
                      models=[BedrockModelAlias(alias="fast", model_id="us.amazon.nova-lite-v1:0")])
    # Needs the bundled instance and container tables (sagemaker_endpoint/data/*.json).
    SageMakerLlmEndpoint(stack, "Llm", model=ModelSource.s3_prefix(s3.Bucket.from_bucket_name(stack, "W", "weights"), "m/"))
    app.synth()
    print(json.dumps({"package": cdk_llm_serving.__file__, "runtime": runtime_dir("gateway"),
                      "flags": {k: v for k, v in app.node.get_all_context().items() if k.startswith("@aws-cdk")}}))
    """
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("cdk_llm_serving-*.whl")
    return whl


def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cdk_llm_serving/__init__.py" in names
    assert "cdk_llm_serving/py.typed" in names
    assert "cdk_llm_serving/_lambda/gateway/run.sh" in names
    assert "cdk_llm_serving/_lambda/gateway/server.py" in names
    assert "cdk_llm_serving/_lambda/batch/handler.py" in names
    for data in (
        "version_matrix.json",
        "inf2_instances.json",
        "inf2_prices.json",
        "helm_values_keys.json",
        "system_requests.json",
        "vllm_neuron_models.json",
        "ec2_instance_families.json",
    ):
        assert f"cdk_llm_serving/eks_inferentia/data/{data}" in names
    for data in ("instances.json", "containers.json", "hosting_instance_types.json"):
        assert f"cdk_llm_serving/sagemaker_endpoint/data/{data}" in names
    # stacks/ is this repository's app, not part of the library (see README).
    assert not any(n.startswith(("stacks/", "tests/", "constructs/")) for n in names)
    assert not any("__pycache__" in n for n in names)


def test_consumer_app_synthesizes_from_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    workdir = tmp_path / "consumer"
    workdir.mkdir()
    (workdir / "app.py").write_text(CONSUMER_APP)
    # PYTHONPATH precedes site-packages (and the repo's editable-install .pth), so the wheel wins.
    # The consumer gets cdk.json's recommended feature flags the way the CLI passes them, so
    # library users with a `cdk init` app get the templates we test.
    env = {**os.environ, "PYTHONPATH": str(site), "CDK_CONTEXT_JSON": json.dumps(feature_flags())}
    done = subprocess.run([sys.executable, "app.py"], cwd=workdir, env=env, check=True, capture_output=True, text=True)
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["package"].startswith(str(site))
    assert info["flags"] == feature_flags()
    assert info["runtime"] == str(site / "cdk_llm_serving" / "_lambda" / "gateway")
    assets = json.loads((workdir / "cdk.out" / "Consumer.assets.json").read_text())
    (asset,) = [f for f in assets["files"].values() if f["source"].get("packaging") == "zip"]
    staged = workdir / "cdk.out" / asset["source"]["path"]
    assert (staged / "run.sh").exists() and (staged / "server.py").exists()
    assert os.access(staged / "run.sh", os.X_OK)
