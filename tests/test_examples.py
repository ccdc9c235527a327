"""examples/: each example app synthesizes on its own, passes cdk-nag and cfn-lint, and the README shows its code.

Every example is run the way ``cdk deploy --app ".venv/bin/python examples/<name>.py"`` runs it: in a subprocess with
the venv's python, ``CDK_OUTDIR`` set and cdk.json's feature flags in ``CDK_CONTEXT_JSON``. The subprocesses run in the
background (as many at a time as there are CPUs) while the same examples' ``build(app)`` functions are built into one
App with the cdk-nag plugins in this process.

README blocks marked ``<!-- example: examples/<file>.py -->`` (the whole file) or ``<!-- example:
examples/<file>.py#<tag> -->`` (the lines between ``# [start:<tag>]`` and ``# [end:<tag>]``; a tag may mark several
regions, each dedented, joined by a blank line) must equal that code.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import aws_cdk as cdk
import cfnlint.api
import pytest
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from cdk_llm_serving._nag import acknowledge, nag_resource
from harness import REPO, Synthesis, feature_flags, stack_templates, synth_with_report
from test_compliance import _cfn_lint_config
from test_lora_fleet import _nested_templates

EXAMPLES_DIR = REPO / "examples"
README = REPO / "README.md"

#: Every example and the stacks its app synthesizes.
EXAMPLES: dict[str, set[str]] = {
    "sagemaker_real_time": {"SageMakerRealTimeExample"},
    "sagemaker_inference_components": {"SageMakerInferenceComponentsExample"},
    "sagemaker_serverless": {"SageMakerServerlessExample"},
    "sagemaker_async": {"SageMakerAsyncExample"},
    "sagemaker_batch": {"SageMakerBatchExample"},
    "lora_fleet": {"LoraFleetExample"},
    "eks_inferentia": {"EksInferentiaExample"},
    "knowledge_base": {"KnowledgeBaseExample"},
    "gateway_bedrock": {"GatewayBedrockExample"},
    "gateway_private": {"GatewayPrivateExample"},
    "gateway_routing": {"GatewayRoutingExample"},
    "bedrock_batch": {"BedrockBatchExample"},
}

#: The warnings the library emits on purpose in an example (see test_compliance.EXPECTED_WARNINGS).
EXPECTED_WARNINGS = {
    ("SageMakerServerlessExample/Small", "Annotation::cdk-llm-serving:serverless-small-models-only"),
}

_STAND_IN = (
    "stands in for the consumer's own role (the example's caller, tenant, uploader or retriever); its grants "
    "land in the role's default policy, which is the consumer's choice to keep inline or not"
)


def _acknowledge_intended_findings(stacks: dict[str, cdk.Stack]) -> None:
    """What cdk-nag finds in the examples is on roles that stand in for a consumer's own, plus CDK's flow-log role.

    The examples stay free of cdk-nag code; the findings are acknowledged here, each by its exact id.
    """
    nist_inline = "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy"
    for stack_name, role_id in (
        ("SageMakerRealTimeExample", "Caller"),
        ("SageMakerAsyncExample", "Caller"),
        ("LoraFleetExample", "TenantRole"),
        ("KnowledgeBaseExample", "Retriever"),
        ("KnowledgeBaseExample", "Publisher"),
        ("GatewayBedrockExample", "Caller"),
    ):
        acknowledge(stacks[stack_name].node.find_child(role_id), nist_inline, f"Example role that {_STAND_IN}")

    async_stack = stacks["SageMakerAsyncExample"]
    bucket = async_stack.node.find_child("Queued").bucket
    caller = async_stack.node.find_child("Caller")
    for prefix in ("async/input/*", "async/output/*", "async/failure/*"):
        acknowledge(
            caller,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(async_stack, bucket.arn_for_objects(prefix))}]",
            "grant_invoke_async: requests are uploaded and results read under the endpoint's async prefixes",
        )
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        acknowledge(
            caller,
            f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]",
            "grant_invoke_async: Key.grant_encrypt_decrypt on the endpoint's own key, for the async payloads",
        )

    kb_stack = stacks["KnowledgeBaseExample"]
    documents = kb_stack.node.find_child("Documents").document_bucket.arn_for_objects("documents/*")
    acknowledge(
        kb_stack.node.find_child("Publisher"),
        f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(kb_stack, documents)}]",
        "grant_upload: the uploader writes any document under the index prefix; object ARNs need a wildcard",
    )

    flow_log = stacks["GatewayPrivateExample"].node.find_child("Vpc").node.find_child("FlowLog")
    acknowledge(
        flow_log,
        nist_inline,
        "CDK's flow-log delivery role of the example VPC; its only policy writes to the flow-log group",
    )


# ----------------------------------------------------------------- loading and running


def _load(stem: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{stem}", EXAMPLES_DIR / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Run:
    outdir: Path
    returncode: int
    output: str


class Runs:
    """``python examples/<name>.py`` for every example, in background processes (as many at a time as CPUs)."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
        self._futures: dict[str, Future[Run]] = {stem: self._pool.submit(self._run, stem) for stem in EXAMPLES}

    def result(self, stem: str) -> Run:
        return self._futures[stem].result()

    def _run(self, stem: str) -> Run:
        outdir = self._tmp / stem
        env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(feature_flags())}
        done = subprocess.run(
            [sys.executable, f"examples/{stem}.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
        )
        return Run(outdir=outdir, returncode=done.returncode, output=done.stdout + done.stderr)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)  # runs still queued (e.g. under -k) are dropped


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    r = Runs(tmp_path_factory.mktemp("examples"))
    yield r
    r.close()


@pytest.fixture(scope="module")
def nagged(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """Every example's ``build(app)`` in one App with cdk-nag (the subprocesses run meanwhile)."""
    outdir = tmp_path_factory.mktemp("examples-nag")
    app = cdk.App(outdir=str(outdir), context=feature_flags())
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(), NIST80053R5Checks())
    stacks: dict[str, cdk.Stack] = {}
    for stem in EXAMPLES:
        built = _load(stem).build(app)
        stacks[built.stack_name] = built
    _acknowledge_intended_findings(stacks)
    violations, error = synth_with_report(app, outdir)
    return Synthesis(
        outdir=outdir, templates=stack_templates(outdir), nag_violations=violations, synth_error=error, stacks=stacks
    )


# ----------------------------------------------------------------- the examples themselves


def test_every_example_is_listed() -> None:
    assert {p.stem for p in EXAMPLES_DIR.glob("*.py")} == set(EXAMPLES)


@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_example_app_shape(stem: str) -> None:
    """A docstring saying what it deploys, its idle cost and the deploy command; ``build(app)``; a main that synthesizes."""
    tree = ast.parse((EXAMPLES_DIR / f"{stem}.py").read_text())
    doc = ast.get_docstring(tree) or ""
    assert "Deploys:" in doc and "Idle cost" in doc
    assert f'npx --no-install cdk deploy --app ".venv/bin/python examples/{stem}.py"' in doc
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert [a.arg for a in functions["build"].args.args] == ["app"]
    main = tree.body[-1]
    assert isinstance(main, ast.If) and ast.unparse(main.test) == "__name__ == '__main__'"
    assert [ast.unparse(s) for s in main.body] == ["app = cdk.App()", "build(app)", "app.synth()"]
    # No lookups (synth stays offline); environment-agnostic is checked on the cloud assembly.
    lookups = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and "lookup" in n.attr]
    assert not lookups


def test_examples_pass_cdk_nag(nagged: Synthesis) -> None:
    errors = [v for v in nagged.nag_violations if v["severity"] != "warning"]
    assert not errors, "unacknowledged cdk-nag findings:\n" + "\n".join(f"{v['rule']} at {v['path']}" for v in errors)
    assert nagged.synth_error is None
    warnings = {(v["path"], v["rule"]) for v in nagged.nag_violations if v["severity"] == "warning"}
    assert warnings == EXPECTED_WARNINGS


@pytest.mark.parametrize("stack_name", sorted(set().union(*EXAMPLES.values())))
def test_examples_cfn_lint_clean(nagged: Synthesis, stack_name: str) -> None:
    template = nagged.templates[stack_name]
    templates = {stack_name: template, **_nested_templates(nagged.outdir, stack_name, template)}
    for name, body in templates.items():
        matches = cfnlint.api.lint(json.dumps(body), config=_cfn_lint_config())
        errors = [m for m in matches if m.rule.id.startswith("E")]
        assert not errors, f"{name}:\n" + "\n".join(str(m) for m in errors)


def test_lora_cost_comparison_in_a_region_agnostic_stack(nagged: Synthesis) -> None:
    """E-newcomer #9: the README's ``compare_with_dedicated`` call raised in a Region-agnostic stack (the ``cdk init``
    default); now it prices us-east-1 and says so. The README block is this example's code."""
    outputs = nagged.templates["LoraFleetExample"]["Outputs"]
    assert outputs["SavingsAt100Adapters"]["Value"] == "95.3 % (prices of us-east-1, assumed)"


@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_example_synthesizes_on_its_own(runs: Runs, stem: str) -> None:
    run = runs.result(stem)
    assert run.returncode == 0, run.output[-4000:]
    manifest = json.loads((run.outdir / "manifest.json").read_text())
    stacks = {name for name, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"}
    assert stacks == EXAMPLES[stem]
    for name in stacks:  # environment-agnostic
        assert manifest["artifacts"][name]["environment"] == "aws://unknown-account/unknown-region"


# ----------------------------------------------------------------- README blocks


_MARKER = re.compile(r"^# \[(start|end):([\w-]+)\]$")
_BLOCK = re.compile(
    r"<!-- example: examples/(?P<file>[\w-]+\.py)(?:#(?P<tag>[\w-]+))? -->\n```python\n(?P<code>.*?)\n```", re.DOTALL
)


def excerpt(path: Path, tag: str | None) -> str:
    """The file (marker lines removed), or the regions of ``tag``, each dedented, joined by a blank line."""
    lines = path.read_text().splitlines()
    if tag is None:
        return "\n".join(line for line in lines if not _MARKER.match(line.strip())).strip("\n")
    regions: list[list[str]] = []
    inside = False
    for line in lines:
        marker = _MARKER.match(line.strip())
        if marker and marker[2] == tag:
            assert (marker[1] == "start") != inside, f"{path.name}: unbalanced '# [{marker[1]}:{tag}]'"
            inside = marker[1] == "start"
            if inside:
                regions.append([])
        elif inside and not marker:
            regions[-1].append(line)
    assert regions and not inside, f"{path.name}: no closed '# [start:{tag}]' region"
    return "\n\n".join(textwrap.dedent("\n".join(r)).strip("\n") for r in regions)


def _readme_blocks() -> list[re.Match[str]]:
    return list(_BLOCK.finditer(README.read_text()))


#: Examples whose code the README's construct sections show: all of them.
SHOWN_IN_README = set(EXAMPLES)

#: The README's python blocks that are deliberately not example excerpts, each found by a line only it has, and why.
#: They are client code for a deployed API (placeholders for its URL and token), not CDK apps; the helper they use,
#: ``scripts/call_gateway.py``'s ``SigV4Auth``, is tested in tests/test_call_gateway.py.
NOT_EXCERPTS = {
    'client = OpenAI(base_url="<OpenAIBaseUrl output>", api_key="<Cognito ID token>")': (
        "ChatStack: calling the deployed API with a Cognito ID token (needs a deployed stack and a signed-in user)"
    ),
    'http_client=openai.DefaultHttpxClient(auth=SigV4Auth(credentials, "us-east-1")),': (
        "ChatStack with auth iam: calling the deployed API with SigV4 (needs a deployed stack and AWS credentials)"
    ),
    'client.chat.completions.create(model="support", messages=[{"role": "user", "content": "Reset my password"}])': (
        "LoraStack: calling the deployed API with SigV4 (needs a deployed stack and AWS credentials)"
    ),
}


def test_readme_marks_blocks() -> None:
    markers = re.findall(r"^<!-- example:.*$", README.read_text(), re.MULTILINE)
    assert len(markers) == len(_readme_blocks()), f"a marker not right before a ```python fence: {markers}"
    assert {m["file"].removesuffix(".py") for m in _readme_blocks()} >= SHOWN_IN_README


def test_every_readme_python_block_is_an_excerpt_or_excused() -> None:
    """A python block is either an example excerpt (marked) or one of NOT_EXCERPTS, which each match one block."""
    text = README.read_text()
    marked = {m.start("code") for m in _readme_blocks()}
    blocks = re.finditer(r"^```python\n(?P<code>.*?)\n```", text, re.MULTILINE | re.DOTALL)
    unmarked = {
        m["code"]: {line.strip() for line in m["code"].splitlines()} for m in blocks if m.start("code") not in marked
    }
    found = {line: sum(line in lines for lines in unmarked.values()) for line in NOT_EXCERPTS}
    assert all(n == 1 for n in found.values()), f"each NOT_EXCERPTS line must be in exactly one block: {found}"
    strays = [code for code, lines in unmarked.items() if not lines & set(NOT_EXCERPTS)]
    assert not strays, "README python blocks that are neither marked example excerpts nor in NOT_EXCERPTS:\n" + (
        "\n---\n".join(strays)
    )


@pytest.mark.parametrize("block", _readme_blocks(), ids=lambda m: f"{m['file']}#{m['tag'] or ''}")
def test_readme_block_is_the_example(block: re.Match[str]) -> None:
    expected = excerpt(EXAMPLES_DIR / block["file"], block["tag"])
    assert block["code"] == expected, f"README block for examples/{block['file']}#{block['tag']} differs from the file"


def test_readme_examples_section_lists_every_example() -> None:
    text = README.read_text()
    section = text[text.index("\n## Examples\n") : text.index("\n## Feature flags\n")]
    for stem in EXAMPLES:
        assert f"[`examples/{stem}.py`](examples/{stem}.py)" in section


def test_excerpt_markers(tmp_path: Path) -> None:
    """Regions of one tag are joined; marker lines of other tags are dropped; an unclosed region fails."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import a\n# [start:t]\nimport b\n# [end:t]\n\ndef f():\n    # [start:t]\n    x = 1\n"
        "    # [start:u]\n    y = 2\n    # [end:u]\n    # [end:t]\n"
    )
    assert excerpt(sample, "t") == "import b\n\nx = 1\ny = 2"
    assert excerpt(sample, "u") == "y = 2"
    assert excerpt(sample, None).splitlines()[:2] == ["import a", "import b"]
    with pytest.raises(AssertionError, match="no closed"):
        excerpt(sample, "missing")
    sample.write_text("# [start:t]\nx = 1\n")
    with pytest.raises(AssertionError, match="no closed"):
        excerpt(sample, "t")
