"""scripts/diagrams.py on the session synthesis (DOT only: no Graphviz needed), and the committed pictures.

`make diagrams` renders docs/diagrams/<Stack>.svg; these tests check that the grouping accounts for every
resource of every synthesized stack (nested stacks included), that the arrows the README relies on are
drawn, and that every app stack has a committed picture naming its current top-level constructs.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import REPO, TEST_STACKS, Synthesis

DIAGRAMS = REPO / "docs" / "diagrams"


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("diagrams", REPO / "scripts" / "diagrams.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["diagrams"] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


dg = _load_script()


@pytest.fixture(scope="module")
def models(synthesis: Synthesis) -> dict[str, Any]:
    return dg.load_assembly(synthesis.outdir)


def _app_stacks(synthesis: Synthesis) -> list[str]:
    return sorted(set(synthesis.templates) - TEST_STACKS)


def _all_boxes(boxes: list[Any], clusters: list[Any]) -> list[Any]:
    out = list(boxes)
    for c in clusters:
        out += _all_boxes(c.boxes, c.clusters)
    return out


def _graph(models: dict[str, Any], stack: str) -> tuple[dict[str, Any], list[tuple[str, str]], str]:
    boxes, clusters, edges = dg.build_graph(models[stack])
    return {b.key: b for b in _all_boxes(boxes, clusters)}, edges, dg.to_dot(models[stack])


def test_every_stack_gets_a_graph_that_accounts_for_every_resource(
    synthesis: Synthesis, models: dict[str, Any]
) -> None:
    # the top-level assembly's stacks (scripts/diagrams.py does not draw the pipeline's stages, nested assemblies)
    assert set(models) == {n for n in synthesis.templates if not n.startswith("SamplePipelineStack-")}
    for name, model in models.items():
        boxes, edges, dot = _graph(models, name)
        # Every resource of the stack's template and of its nested stacks' is in exactly one box.
        drawn = [r.path for b in boxes.values() for r in b.resources]
        assert len(drawn) == len(set(drawn)) == model.resource_count, name
        assert model.templates[0].resources.keys() == synthesis.templates[name]["Resources"].keys(), name
        # Arrows join declared boxes; the DOT declares each box once and balances its braces.
        assert all(s in boxes and t in boxes for s, t in edges), name
        for key in boxes:
            assert len(re.findall(rf'^\s*"{re.escape(key)}" \[label=', dot, re.M)) == 1, (name, key)
        assert dot.startswith(f'digraph "{name}" {{') and dot.count("{") == dot.count("}"), name


def test_nested_adapter_stacks_are_read_from_their_own_templates(models: dict[str, Any]) -> None:
    lora = models["LoraStack"]
    nested = [
        t
        for t in lora.templates[1:]
        if any(r["Type"] == "AWS::SageMaker::InferenceComponent" for r in t.resources.values())
    ]
    components = {
        path[-2]
        for t in nested
        for lid, path in t.paths.items()
        if t.resources[lid]["Type"] == "AWS::SageMaker::InferenceComponent"
    }
    assert components == {"support", "legal", "sql"}  # LoraStack's default adapters, each in its nested template


def test_the_arrows_show_what_calls_what(models: dict[str, Any]) -> None:
    _, rag_edges, _ = _graph(models, "RagStack")
    # The gateway names the endpoint in its configuration (a physical name, not a Ref) and retrieves
    # from the knowledge base (a Ref); the endpoint config points at the model.
    assert ("Gateway/Function", "Llm/Endpoint") in rag_edges
    assert ("Gateway/Function", "Documents/KnowledgeBase") in rag_edges
    assert ("Llm/Endpoint", "Llm/EndpointConfig") in rag_edges
    lora_boxes, lora_edges, _ = _graph(models, "LoraStack")
    adapters = next(
        k
        for k, b in lora_boxes.items()
        if "SageMaker InferenceComponent" in b.label() and k.startswith("Fleet/Adapter")
    )
    assert ("Gateway/Function", adapters) in lora_edges
    inf_boxes, _, _ = _graph(models, "InferentiaStack")
    charts = [b for b in inf_boxes.values() if b.primary == "Custom::AWSCDK-EKS-HelmChart"]
    assert len(charts) == 1 and len(charts[0].names) == 7 and "KServeChart" in charts[0].names


def test_quiet_boxes_have_no_arrows(models: dict[str, Any]) -> None:
    # Keys, IAM and monitoring boxes would draw an arrow from nearly everything: they are left out.
    boxes, _, dot = _graph(models, "ChatStack")
    quiet = [k for k, b in boxes.items() if dg.family(b.primary) in ("security", "monitoring")]
    assert "Gateway/LogsKey" in quiet
    for key in quiet:
        assert not re.search(rf'"{re.escape(key)}" -> "[^"]+";$|-> "{re.escape(key)}";$', dot, re.M), key


def test_every_app_stack_has_a_committed_diagram(synthesis: Synthesis, models: dict[str, Any]) -> None:
    app = _app_stacks(synthesis)
    assert sorted(p.stem for p in DIAGRAMS.glob("*.svg")) == app, "run `make diagrams` and commit docs/diagrams/"
    readme = (REPO / "README.md").read_text()
    for name in app:
        svg = (DIAGRAMS / f"{name}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and f"<title>{name}</title>" in svg
        _, clusters, _ = dg.build_graph(models[name])
        for cluster in clusters:  # the picture still shows the stack's current top-level constructs
            assert f">{cluster.key} (" in svg, f"docs/diagrams/{name}.svg lacks {cluster.key}: run `make diagrams`"
        assert f"](docs/diagrams/{name}.svg)" in readme, f"show docs/diagrams/{name}.svg in the README's {name} section"


def test_dot_only_writes_dot_files_without_graphviz(synthesis: Synthesis, tmp_path: Path) -> None:
    assert dg.main([str(synthesis.outdir), str(tmp_path), "--stacks", "ChatStack", "--dot-only"]) == 0
    assert (tmp_path / "ChatStack.dot").read_text().startswith('digraph "ChatStack" {')
    with pytest.raises(SystemExit, match="NoSuchStack"):
        dg.main([str(synthesis.outdir), str(tmp_path), "--stacks", "NoSuchStack", "--dot-only"])
