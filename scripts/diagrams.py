#!/usr/bin/env python3
"""Architecture pictures from a synthesized cloud assembly: one Graphviz graph per stack.

``make diagrams`` synthesizes the app (offline) and runs ``scripts/diagrams.py cdk.out docs/diagrams``.
For every stack of the assembly the script reads the construct tree (``tree.json``: the hierarchy and
each construct's type), the stack's metadata (construct path -> logical ID) and its templates
(``<Stack>.template.json`` and its nested stacks': resource types and references), builds a Graphviz
graph and renders ``<Stack>.svg`` with ``dot`` (``--dot-only`` writes ``<Stack>.dot`` instead, no
Graphviz needed).

To keep a picture readable the graph is grouped, not one box per resource:

* a construct of this library (the ``cdk_llm_serving`` constructs, whose jsii type is plain
  ``constructs.Construct``) is a cluster; its children are boxes, and a child that is itself a
  library construct with several resources (a ``LoraAdapterFleet``'s base endpoint) is a nested
  cluster. aws-cdk-lib constructs are boxes with their L1 children collapsed into them (an
  ``Api`` box holds the RestApi, stage, deployment and gateway responses), except
  :data:`EXPAND`: the EKS cluster, whose Helm charts and manifests are what it deploys;
* siblings of the same kind (five alarms, four log groups, IAM roles and policies, seven Helm
  charts) share one box that names them;
* an arrow A -> B means a resource of A references one of B (``Ref``, ``Fn::GetAtt``,
  ``Fn::Sub``). Arrows from or to keys, IAM and monitoring boxes (log groups, alarms, dashboards,
  topics) are left out: nearly everything has one, and they would hide the request and data paths.

Only the standard library is used; the output is deterministic (sorted), so a diff of the
committed ``docs/diagrams/*.svg`` shows real changes only.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: aws-cdk-lib constructs drawn as clusters instead of collapsed boxes.
EXPAND = frozenset({"aws-cdk-lib.aws_eks_v2.Cluster"})
#: A library construct nested in a cluster becomes a nested cluster from this many resources on.
NESTED_CLUSTER_MIN = 4
#: Names listed in a merged box before "+N".
MAX_NAMES = 8

#: Box colours by service family; the legend in each picture's title repeats them.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "API and edge": ("#E4D7F5", ("ApiGateway", "WAFv2", "Cognito")),
    "compute": (
        "#FBE0BF",
        (
            "Lambda",
            "SageMaker",
            "EKS",
            "AWSCDK-EKS-HelmChart",
            "AWSCDK-EKS-KubernetesResource",
            "AWSCDK-EKS-KubernetesObjectValue",
            "ApplicationAutoScaling",
        ),
    ),
    "data": ("#D3EDD3", ("S3", "S3Vectors", "Bedrock")),
    "network": ("#D4E4F5", ("EC2", "VpcRestrictDefaultSG")),
    "security": ("#F5D3D3", ("IAM", "KMS")),
    "monitoring": ("#F3EDC2", ("Logs", "CloudWatch", "SNS")),
    "orchestration": ("#E3E3E3", ("StepFunctions", "Events", "SQS", "SSM", "CloudFormation")),
}
_QUIET_FAMILIES = frozenset({"security", "monitoring"})
_FRIENDLY = {
    "Custom::AWSCDK-EKS-HelmChart": "Helm chart",
    "Custom::AWSCDK-EKS-KubernetesResource": "Kubernetes manifest",
    "Custom::AWSCDK-EKS-KubernetesObjectValue": "Kubernetes object lookup",
    "Custom::VpcRestrictDefaultSG": "default-SG lockdown (custom resource)",
    "AWS::CloudFormation::Stack": "nested stack",
    "AWS::CloudFormation::WaitConditionHandle": "anchor",
}
_IAM = frozenset({"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::InstanceProfile"})
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
#: Physical names other resources mention as text (an endpoint name in the gateway's configuration).
_NAME_PROPERTY = re.compile(r"(Endpoint|InferenceComponent|Function|StateMachine|Cluster|Queue)Name$")
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def service(rtype: str) -> str:
    """``AWS::Lambda::Function`` -> ``Lambda``; ``Custom::AWSCDK-EKS-HelmChart`` -> ``AWSCDK-EKS-HelmChart``."""
    parts = rtype.split("::")
    return parts[1] if len(parts) > 1 else rtype


def family(rtype: str) -> str:
    svc = service(rtype)
    return next((name for name, (_, services) in FAMILIES.items() if svc in services), "orchestration")


def friendly(rtype: str) -> str:
    """A short readable type name: ``AWS::CloudWatch::Alarm`` -> ``CloudWatch Alarm``."""
    if rtype in _FRIENDLY:
        return _FRIENDLY[rtype]
    return " ".join(rtype.split("::")[1:]) or rtype


# ------------------------------------------------------------------------------------ the assembly


@dataclass
class Construct:
    """A construct of the tree with the CloudFormation resources below it."""

    name: str
    path: tuple[str, ...]
    fqn: str
    rtype: str | None = None  # set on L1 constructs
    children: dict[str, Construct] = field(default_factory=dict)

    def resources(self) -> Iterator[Construct]:
        if self.rtype:
            yield self
        for child in self.children.values():
            yield from child.resources()

    @property
    def is_library(self) -> bool:
        return not self.fqn.startswith("aws-cdk-lib.")


@dataclass(frozen=True)
class TemplateModel:
    """One template of a stack (the stack's own, or a nested stack's) with its resources' construct paths."""

    resources: dict[str, Any]  # logical ID -> resource
    paths: dict[str, tuple[str, ...]]  # logical ID -> construct path below the stack


@dataclass(frozen=True)
class StackModel:
    name: str
    root: Construct
    templates: tuple[TemplateModel, ...]  # the stack's template first, then its nested stacks'

    @property
    def resource_count(self) -> int:
        return sum(len(t.resources) for t in self.templates)


def _normal(segment: str) -> str:
    # A nested stack's AWS::CloudFormation::Stack resource lives in "<id>.NestedStack"; draw it with "<id>".
    return segment.removesuffix(".NestedStack")


def _tree(node: dict[str, Any], path: tuple[str, ...]) -> Construct:
    info = node.get("constructInfo") or {}
    attrs = node.get("attributes") or {}
    built = Construct(
        name=path[-1] if path else node.get("id", ""),
        path=path,
        fqn=info.get("fqn", ""),
        rtype=attrs.get("aws:cdk:cloudformation:type"),
    )
    for cid, child in sorted((node.get("children") or {}).items()):
        key = _normal(cid)
        sub = _tree(child, (*path, key))
        if key in built.children:  # "<id>.NestedStack" joins "<id>"
            merged = built.children[key]
            merged.children.update(sub.children)
            merged.rtype = merged.rtype or sub.rtype
            if merged.fqn == "constructs.Construct":
                merged.fqn = sub.fqn
        else:
            built.children[key] = sub
    return built


def _logical_ids(metadata: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """(construct path below the stack, logical ID) for every resource the stack's metadata names."""
    out = []
    for path, entries in metadata.items():
        parts = tuple(_normal(p) for p in path.strip("/").split("/")[1:])
        out += [(parts, e["data"]) for e in entries if e.get("type") == "aws:cdk:logicalId"]
    return out


def _owned_ids(
    ids: list[tuple[tuple[str, ...], str]],
    prefix: tuple[str, ...],
    resources: dict[str, Any],
    excluded: list[tuple[str, ...]],
) -> dict[str, tuple[str, ...]]:
    """The logical IDs of ``ids`` that belong to the template of the construct path ``prefix``.

    A logical ID is unique in its template only: match it below the template's construct path,
    outside the nested stacks below that (their resources are in their own templates), except
    the "<id>.NestedStackResource" the parent template holds.
    """

    def inside(path: tuple[str, ...], n: tuple[str, ...]) -> bool:
        return path[: len(n)] == n and len(path) > len(n) and not path[len(n)].endswith(".NestedStackResource")

    return {
        lid: path
        for path, lid in ids
        if lid in resources
        and path[: len(prefix)] == prefix
        and not any(inside(path, n) for n in excluded if n != prefix)
    }


def load_assembly(outdir: Path) -> dict[str, StackModel]:
    """Every stack of the cloud assembly in ``outdir`` (nested stacks are drawn inside their parent)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    artifacts = manifest["artifacts"]
    tree_file = next((a["properties"]["file"] for a in artifacts.values() if a["type"] == "cdk:tree"), "tree.json")
    tree = json.loads((outdir / tree_file).read_text())["tree"]
    asset_files: dict[str, str] = {}  # asset hash -> file in the assembly (nested templates among them)
    for artifact in artifacts.values():
        if artifact["type"] == "cdk:asset-manifest":
            files = json.loads((outdir / artifact["properties"]["file"]).read_text()).get("files", {})
            asset_files.update({h: f["source"]["path"] for h, f in files.items()})
    out: dict[str, StackModel] = {}
    for name, artifact in sorted(artifacts.items()):
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        metadata = dict(artifact.get("metadata") or {})
        if artifact.get("additionalMetadataFile"):
            metadata.update(json.loads((outdir / artifact["additionalMetadataFile"]).read_text()))
        # the construct ID, which the artifact ID sanitizes (CDK Pipelines' "cross-region-stack-<account>:<region>")
        root = _tree(tree["children"][artifact.get("displayName", name)], ())
        ids = _logical_ids(metadata)
        nested = _nested_paths(root)

        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        templates = [
            TemplateModel(template.get("Resources", {}), _owned_ids(ids, (), template.get("Resources", {}), nested))
        ]
        for lid, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::CloudFormation::Stack" or lid not in templates[0].paths:
                continue
            digest = _ASSET_HASH.search(json.dumps(resource.get("Properties", {}).get("TemplateURL", "")))
            nested_file = asset_files.get(digest.group(0)) if digest else None
            if nested_file and (outdir / nested_file).exists():
                prefix = templates[0].paths[lid][:-1]
                body = json.loads((outdir / nested_file).read_text()).get("Resources", {})
                deeper = [n for n in nested if n[: len(prefix)] == prefix and n != prefix]
                templates.append(TemplateModel(body, _owned_ids(ids, prefix, body, deeper)))
        _mark_resources(root, templates)
        out[name] = StackModel(name=name, root=root, templates=tuple(templates))
    return out


def _mark_resources(root: Construct, templates: list[TemplateModel]) -> None:
    """Set each construct's resource type from the templates: the tree marks L1 classes only, and a
    ``CfnResource`` (every custom resource: Helm charts, manifests) carries no type there."""
    stack = [root]
    while stack:
        node = stack.pop()
        node.rtype = None
        stack.extend(node.children.values())
    for template in templates:
        for lid, path in template.paths.items():
            node = root
            for segment in path:
                node = node.children.setdefault(segment, Construct(name=segment, path=(*node.path, segment), fqn=""))
            node.rtype = template.resources[lid]["Type"]


def _nested_paths(root: Construct) -> list[tuple[str, ...]]:
    found = []
    stack = [root]
    while stack:
        c = stack.pop()
        if c.fqn == "aws-cdk-lib.NestedStack":
            found.append(c.path)
        stack.extend(c.children.values())
    return found


# ------------------------------------------------------------------------------------------- graph


@dataclass
class Box:
    key: str
    names: list[str]
    resources: list[Construct]
    own_types: list[str] = field(default_factory=list)  # each member's main resource (its "Resource" child)

    @property
    def primary(self) -> str:
        """What the box is: its members' own resource type, else its most common non-IAM type."""
        if self.own_types:
            counts = collections.Counter(self.own_types)
        else:
            types = [r.rtype for r in self.resources if r.rtype]
            counts = collections.Counter([t for t in types if t not in _IAM] or types)
        return sorted(counts, key=lambda t: (-counts[t], t))[0]

    def label(self) -> str:
        names = self.names[:MAX_NAMES] + ([f"+{len(self.names) - MAX_NAMES}"] if len(self.names) > MAX_NAMES else [])
        lines = [", ".join(names[i : i + 2]) for i in range(0, len(names), 2)]
        types = collections.Counter(r.rtype for r in self.resources)
        total = sum(types.values())
        if set(types) <= _IAM:
            lines.append(f"IAM roles and policies ({total})" if total > 1 else friendly(self.primary))
            return "\n".join(lines)
        primary = self.primary
        n = types[primary]
        lines.append(f"{n} × {friendly(primary)}" if n > 1 else friendly(primary))
        rest = total - n
        others = [
            friendly(t)
            for t, _ in sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))
            if t != primary and friendly(t) != "anchor"
        ]
        if rest:
            shown = ", ".join(others[:2]) + (", …" if len(others) > 2 else "")
            lines.append(f"+{rest} more: {shown}" if shown else f"+{rest} more")
        return "\n".join(lines)


@dataclass
class Cluster:
    key: str
    label: str
    boxes: list[Box] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)


def _own_type(construct: Construct) -> str | None:
    """The type of the L1 a construct wraps: itself, or its ``Resource`` (``Default`` for custom resources) child."""
    if construct.rtype:
        return construct.rtype
    for name in ("Resource", "Default"):
        child = construct.children.get(name)
        if child is not None:
            found = _own_type(child)
            if found:
                return found
    return None


def _kind(construct: Construct) -> tuple[str, ...]:
    types = {r.rtype for r in construct.resources() if r.rtype}
    if types <= _IAM:
        return ("IAM",)
    return tuple(sorted(types))


def _group(children: Iterable[Construct], key_prefix: str) -> tuple[list[Box], list[Cluster]]:
    boxes: dict[tuple[str, ...], Box] = {}
    clusters: list[Cluster] = []
    for child in children:
        resources = list(child.resources())
        if not resources:
            continue
        if child.fqn in EXPAND or (child.is_library and child.path[:-1] and len(resources) >= NESTED_CLUSTER_MIN):
            clusters.append(_cluster(child))
            continue
        kind = _kind(child)
        own = _own_type(child)
        name = (
            child.name
            if child.name not in ("Resource", "Default")
            else (child.path[-2] if len(child.path) > 1 else child.name)
        )
        name = name.removeprefix("chart-").removeprefix("manifest-")  # aws_eks_v2's IDs for Helm charts and manifests
        if kind not in boxes:
            boxes[kind] = Box(key=f"{key_prefix}{child.name}", names=[], resources=[])
        boxes[kind].names.append(name)
        boxes[kind].resources.extend(resources)
        if own and own not in _IAM:
            boxes[kind].own_types.append(own)
    return sorted(boxes.values(), key=lambda b: b.key), sorted(clusters, key=lambda c: c.key)


def _cluster(construct: Construct) -> Cluster:
    key = "/".join(construct.path)
    fqn = construct.fqn if not construct.is_library else "cdk-llm-serving construct"
    count = sum(1 for _ in construct.resources())
    boxes, clusters = _group(construct.children.values(), key + "/")
    return Cluster(
        key=key,
        label=f"{construct.name} ({fqn.removeprefix('aws-cdk-lib.')}, {count} resources)",
        boxes=boxes,
        clusters=clusters,
    )


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            yield value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            yield target[0] if isinstance(target, list) else str(target).split(".")[0]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            if isinstance(text, str):
                yield from _SUB_REF.findall(text)
        for v in value.values():
            yield from _references(v)
    elif isinstance(value, list):
        for v in value:
            yield from _references(v)


def build_graph(model: StackModel) -> tuple[list[Box], list[Cluster], list[tuple[str, str]]]:
    """Top-level boxes, clusters and the deduplicated arrows between boxes."""
    plain = [c for c in model.root.children.values() if not (c.is_library or c.fqn in EXPAND)]
    top_boxes, _ = _group(plain, "")
    clusters = sorted(
        (
            _cluster(c)
            for c in model.root.children.values()
            if (c.is_library or c.fqn in EXPAND) and any(True for _ in c.resources())
        ),
        key=lambda c: c.key,
    )

    owner: dict[tuple[str, ...], str] = {}  # construct path of a resource -> box key

    def index(boxes: list[Box], subclusters: list[Cluster]) -> None:
        for box in boxes:
            owner.update({r.path: box.key for r in box.resources})
        for c in subclusters:
            index(c.boxes, c.clusters)

    index(top_boxes, clusters)

    def box_of(template: TemplateModel, lid: str) -> str | None:
        path = template.paths.get(lid)
        return owner.get(path) if path else None

    # Literal physical names, by the box of the resource that has them.
    names: dict[str, str] = {}
    for template in model.templates:
        for lid, resource in template.resources.items():
            box = box_of(template, lid)
            for key, value in (resource.get("Properties") or {}).items():
                if box and _NAME_PROPERTY.search(key) and isinstance(value, str) and len(value) >= 12:
                    names[value] = box

    edges: set[tuple[str, str]] = set()
    for template in model.templates:
        for lid, resource in template.resources.items():
            source = box_of(template, lid)
            if source is None:
                continue
            properties = resource.get("Properties", {})
            targets = {box_of(template, ref) for ref in _references(properties)}
            text = json.dumps(properties)
            targets |= {box for name, box in names.items() if name in text}
            edges |= {(source, t) for t in targets if t and t != source}
    return top_boxes, clusters, sorted(edges)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_dot(model: StackModel) -> str:
    """The stack's picture as Graphviz DOT (deterministic)."""
    top_boxes, clusters, edges = build_graph(model)
    families: dict[str, str] = {}
    title = f"{model.name}: {model.resource_count} CloudFormation resources, grouped by construct"
    legend = "".join(f'<td bgcolor="{colour}"> {_html(name)} </td>' for name, (colour, _) in FAMILIES.items())
    label = (
        f'<<table border="0" cellspacing="4"><tr><td colspan="{len(FAMILIES)}"><font point-size="16">{_html(title)}'
        f'</font></td></tr><tr>{legend}</tr><tr><td colspan="{len(FAMILIES)}"><font point-size="9">arrow: references'
        " (Ref, GetAtt, Sub, a physical name); arrows of keys, IAM and monitoring boxes left out."
        " Generated by scripts/diagrams.py from cdk.out.</font></td></tr></table>>"
    )
    lines = [
        f"digraph {_q(model.name)} {{",
        f'  graph [label={label}, labelloc=t, fontname="Helvetica", rankdir=LR, nodesep=0.25, ranksep=0.5,'
        " newrank=true, pad=0.2];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, margin="0.12,0.05"];',
        '  edge [color="#555555", arrowsize=0.6, penwidth=0.8];',
    ]

    def emit_boxes(boxes: list[Box], indent: str) -> None:
        quiet = []
        for box in boxes:
            fam = family(box.primary)
            families[box.key] = fam
            lines.append(f"{indent}{_q(box.key)} [label={_q(box.label())}, fillcolor={_q(FAMILIES[fam][0])}];")
            if fam in _QUIET_FAMILIES:
                quiet.append(box.key)
        if len(quiet) > 1:  # boxes without arrows: one row, not a column as tall as the cluster
            lines.append(f"{indent}{' -> '.join(_q(k) for k in quiet)} [style=invis];")

    def emit_cluster(cluster: Cluster, indent: str) -> None:
        lines.append(f"{indent}subgraph {_q('cluster_' + cluster.key)} {{")
        lines.append(
            f'{indent}  graph [label={_q(cluster.label)}, style="rounded", color="#888888", fontsize=12, labeljust=l];'
        )
        emit_boxes(cluster.boxes, indent + "  ")
        for sub in cluster.clusters:
            emit_cluster(sub, indent + "  ")
        lines.append(f"{indent}}}")

    emit_boxes(top_boxes, "  ")
    for cluster in clusters:
        emit_cluster(cluster, "  ")
    for source, target in edges:
        if families.get(source) in _QUIET_FAMILIES or families.get(target) in _QUIET_FAMILIES:
            continue
        lines.append(f"  {_q(source)} -> {_q(target)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str, svg_path: Path, dot_binary: str = "dot") -> None:
    """Render DOT to SVG with Graphviz (``dot -Tsvg``)."""
    result = subprocess.run([dot_binary, "-Tsvg"], input=dot_source.encode(), capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"dot failed for {svg_path.name}: {result.stderr.decode(errors='replace')}")
    svg_path.write_bytes(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", nargs="?", default="cdk.out", help="cloud assembly directory (default: cdk.out)")
    parser.add_argument("dest", nargs="?", default="docs/diagrams", help="where to write <Stack>.svg (or .dot)")
    parser.add_argument("--stacks", nargs="*", help="only these stacks (default: all)")
    parser.add_argument("--dot-only", action="store_true", help="write DOT files, do not render")
    args = parser.parse_args(argv)
    models = load_assembly(Path(args.outdir))
    wanted = args.stacks or sorted(models)
    missing = sorted(set(wanted) - set(models))
    if missing:
        raise SystemExit(f"no stack(s) {missing} in {args.outdir}; stacks: {sorted(models)}")
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    dot_binary = None if args.dot_only else shutil.which("dot")
    if not args.dot_only and dot_binary is None:
        raise SystemExit(
            "Graphviz's `dot` is not installed: apt-get install -y graphviz (Debian/Ubuntu), "
            "brew install graphviz (macOS); or pass --dot-only"
        )
    for name in wanted:
        source = to_dot(models[name])
        if dot_binary:
            render(source, dest / f"{name}.svg", dot_binary)
        else:
            (dest / f"{name}.dot").write_text(source)
        print(f"{name}: {dest / name}.{'svg' if dot_binary else 'dot'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
