"""Convention 11 for the SageMaker family: every public prop, option field and enum member says what it is and,
when it is optional, its default ("Default: ..."), so a reader never has to open the code to find it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import cdk_llm_serving.lora_fleet as lora_fleet
import cdk_llm_serving.sagemaker_endpoint as sagemaker_endpoint
from cdk_llm_serving import (
    HostingMode,
    ImportedLlmEndpoint,
    LlmBatchPipeline,
    LlmContainer,
    LoraAdapterFleet,
    ModelSource,
    SageMakerLlmEndpoint,
)

FAMILY = [Path(sagemaker_endpoint.__file__).parent, Path(lora_fleet.__file__).parent]
#: Result and fact types (returned by the library, never filled in by users): fields documented, no defaults to state.
RESULTS = {"InstanceSpec", "FleetCostEstimate", "CostComparison", "EndpointPlan", "BatchPlan", "AdapterArtifact"}


def _public_classes() -> list[tuple[Path, ast.ClassDef]]:
    out = []
    for folder in FAMILY:
        for path in sorted(folder.glob("*.py")):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    out.append((path, node))
    return out


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any("dataclass" in ast.unparse(d) for d in node.decorator_list)


def _is_enum(node: ast.ClassDef) -> bool:
    return any(ast.unparse(b) in ("Enum", "enum.Enum") for b in node.bases)


def _members(node: ast.ClassDef) -> list[tuple[str, bool, str | None]]:
    """(name, has a default, docstring) of each field / member, in order."""
    out = []
    body = node.body
    for i, stmt in enumerate(body):
        name, has_default = None, False
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name, has_default = stmt.target.id, stmt.value is not None
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, has_default = stmt.targets[0].id, True
        if name is None or name.startswith("_"):
            continue
        nxt = body[i + 1] if i + 1 < len(body) else None
        doc = (
            nxt.value.value
            if (isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str))
            else None
        )
        out.append((name, has_default, doc))
    return out


def test_every_option_field_and_enum_member_is_documented_with_its_default() -> None:
    missing = []
    for path, node in _public_classes():
        if _is_enum(node):
            missing += [f"{path.name}: {node.name}.{n} has no docstring" for n, _, doc in _members(node) if not doc]
        elif _is_dataclass(node):
            for name, has_default, doc in _members(node):
                if not doc:
                    missing.append(f"{path.name}: {node.name}.{name} has no docstring")
                elif has_default and node.name not in RESULTS and "Default" not in doc:
                    missing.append(f"{path.name}: {node.name}.{name} does not state its default")
    assert not missing, "\n".join(missing)


def _params(func: object) -> dict[str, str]:
    doc = inspect.getdoc(func) or ""
    return dict(re.findall(r":param (\w+):(.*?)(?=\n:param |\n:raises |\Z)", doc, re.S))


@pytest.mark.parametrize(
    "func",
    [
        SageMakerLlmEndpoint.__init__,
        ImportedLlmEndpoint.__init__,
        LlmBatchPipeline.__init__,
        LoraAdapterFleet.__init__,
        HostingMode.inference_component,
        HostingMode.serverless,
        HostingMode.async_,
        LlmContainer.lmi,
        LlmContainer.vllm,
        LlmContainer.tgi,
        LlmContainer.from_image_uri,
        ModelSource.hugging_face,
    ],
    ids=lambda f: f.__qualname__,
)
def test_every_prop_is_documented_and_optional_ones_state_their_default(func: object) -> None:
    signature = inspect.signature(func)  # type: ignore[arg-type]
    params = _params(func)
    problems = []
    for name, p in signature.parameters.items():
        if name in ("self", "scope", "construct_id") or p.kind is p.VAR_KEYWORD:
            continue
        if name not in params:
            problems.append(f"{name}: no :param line")
        elif p.default is not p.empty and "Default" not in params[name]:
            problems.append(f"{name}: does not state its default")
    assert not problems, problems
