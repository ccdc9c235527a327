"""InferentiaStack / EksInferentiaCluster: intent of the template, manifests against pinned CRD schemas,
the upstream rules of eks_inferentia/rules.py (each with a negative test citing its source), version
matrix and cost ceiling.

The template comes from the session synthesis (tests/harness.py); nothing here synthesizes the
~60 MB kubectl layer again. Negative construct tests only build the construct tree (no synth).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsonschema
import kubernetes_validate
import pytest
import yaml
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from cdk_llm_serving import EksInferentiaCluster, Inf2NodePool, PropsValidationError, ServingMode, VllmNeuronModel
from cdk_llm_serving._types import PropsTypeError
from cdk_llm_serving.eks_inferentia import INTERRUPTION_EVENTS, CostCeiling, EksPlan, version_matrix
from cdk_llm_serving.eks_inferentia.data import (
    ComponentVersions,
    Inf2Instance,
    KubectlLayerPin,
    helm_values_keys,
    inf2_prices,
    karpenter_minimums,
    kserve_modes,
    version_tuple,
)
from cdk_llm_serving.eks_inferentia.manifests import DEFAULT_INF2_NODE_POOLS
from cdk_llm_serving.eks_inferentia.rules import (
    RULES,
    HelmRelease,
    SystemNodeGroup,
    knative_features_needed,
    predictor_pod_spec,
    system_cpu_requests,
)
from harness import Synthesis, cfn_text, expect_rule, flat_statements
from stacks import InferentiaSettings

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "crds"
KUBERNETES_VERSION = "1.34"
VERSIONS = version_matrix()[KUBERNETES_VERSION]
PLACEHOLDER = "CFN-TOKEN"


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def template(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["InferentiaStack"]


def _resources(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def _charts(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Chart name → (logical id, resource)."""
    return {r["Properties"]["Chart"]: (k, r) for k, r in _resources(template, "Custom::AWSCDK-EKS-HelmChart").items()}


def _detokenize(value: Any) -> str:
    """A CloudFormation string expression as text, with every Ref/GetAtt/... replaced by a placeholder."""
    return cfn_text(value, token=lambda _: PLACEHOLDER)


def generated_manifests(template: dict[str, Any]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for r in _resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values():
        docs.extend(json.loads(_detokenize(r["Properties"]["Manifest"])))
    return docs


def _k8s_to_jsonschema(node: Any, *, strict: bool = True) -> Any:
    """OpenAPI v3 CRD schema → Draft 7: int-or-string, preserve-unknown-fields, strict unknown fields."""
    if isinstance(node, list):
        return [_k8s_to_jsonschema(n, strict=strict) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _k8s_to_jsonschema(v, strict=strict)
        for k, v in node.items()
        if k not in ("x-kubernetes-validations", "x-kubernetes-int-or-string")
    }
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        strict
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_validator(relpath: str) -> jsonschema.Draft7Validator:
    crd = yaml.load((SCHEMAS / relpath).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = crd["spec"]["versions"][0]
    schema = _k8s_to_jsonschema(version["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


CRDS = {
    ("karpenter.sh/v1", "NodePool"): f"karpenter-v{VERSIONS.karpenter}/karpenter.sh_nodepools.yaml",
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): f"karpenter-v{VERSIONS.karpenter}/karpenter.k8s.aws_ec2nodeclasses.yaml",
    (
        "serving.kserve.io/v1beta1",
        "InferenceService",
    ): f"kserve-{VERSIONS.kserve}/serving.kserve.io_inferenceservices.yaml",
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Built-in kinds: the Kubernetes OpenAPI schemas shipped by kubernetes-validate, strict (unknown fields fail).
BUILTIN = {("v1", "Namespace"), ("v1", "ServiceAccount")}
# The Knative operator's KnativeServing has no pinned CRD here: a minimal structural schema.
MINIMAL = {
    ("operator.knative.dev/v1beta1", "KnativeServing"): {"spec": {"version", "ingress", "config"}},
}


def schema_errors(doc: dict[str, Any]) -> list[str]:
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CRDS:
        return [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in crd_validator(CRDS[key]).iter_errors(doc)
        ]
    if key in BUILTIN:
        try:
            kubernetes_validate.validate(doc, desired_version=KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [f"{'.'.join(map(str, exc.path))}: {exc.message}"]
        return []
    if key in MINIMAL:
        errors = []
        meta = doc.get("metadata", {})
        if not _DNS_LABEL.match(str(meta.get("name", ""))):
            errors.append(f"metadata.name {meta.get('name')!r} is not a DNS label")
        unknown = set(doc) - {"apiVersion", "kind", "metadata", "spec"}
        if unknown:
            errors.append(f"unknown top-level fields {sorted(unknown)}")
        allowed = MINIMAL[key]["spec"]
        spec = doc.get("spec")
        if allowed is None and spec is not None:
            errors.append(f"{key[1]} has no spec")
        if allowed is not None and (not isinstance(spec, dict) or set(spec) - allowed):
            errors.append(f"spec fields must be within {sorted(allowed)}")
        return errors
    return [f"no schema for {key}"]


# ---------------------------------------------------------------- Helm releases


def test_helm_releases_pinned_to_the_version_matrix(template: dict[str, Any]) -> None:
    charts = _charts(template)
    expected = {
        "karpenter-crd": ("oci://public.ecr.aws/karpenter/karpenter-crd", VERSIONS.karpenter),
        "karpenter": ("oci://public.ecr.aws/karpenter/karpenter", VERSIONS.karpenter),
        "neuron-helm-chart": ("oci://public.ecr.aws/neuron/neuron-helm-chart", VERSIONS.neuron_chart),
        "cert-manager": ("https://charts.jetstack.io", VERSIONS.cert_manager),
        "kserve-crd": ("oci://ghcr.io/kserve/charts/kserve-crd", VERSIONS.kserve),
        "knative-operator": ("https://knative.github.io/operator", VERSIONS.knative_operator),
        "kserve-resources": ("oci://ghcr.io/kserve/charts/kserve-resources", VERSIONS.kserve),
    }
    assert set(charts) == set(expected)
    for name, (repo, version) in expected.items():
        props = charts[name][1]["Properties"]
        assert (props["Repository"], props["Version"]) == (repo, version), name
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", props["Version"]), name
    assert charts["karpenter"][1]["Properties"]["SkipCrds"] is True


def _depends(template: dict[str, Any], logical_id: str) -> set[str]:
    return set(template["Resources"][logical_id].get("DependsOn", []))


def test_helm_releases_and_manifests_are_ordered(template: dict[str, Any]) -> None:
    c = {name: lid for name, (lid, _) in _charts(template).items()}
    manifests = {
        json.loads(_detokenize(r["Properties"]["Manifest"]))[0]["kind"]: lid
        for lid, r in _resources(template, "Custom::AWSCDK-EKS-KubernetesResource").items()
    }
    assert c["karpenter-crd"] in _depends(template, c["karpenter"])
    assert c["cert-manager"] in _depends(template, c["kserve-crd"])
    assert c["kserve-crd"] in _depends(template, c["kserve-resources"])
    assert manifests["Namespace"] != manifests.get("KnativeServing")
    knative_serving = next(
        lid
        for lid, r in _resources(template, "Custom::AWSCDK-EKS-KubernetesResource").items()
        if "KnativeServing" in _detokenize(r["Properties"]["Manifest"])
    )
    assert c["knative-operator"] in _depends(template, knative_serving)
    crd_wait = next(iter(_resources(template, "Custom::AWSCDK-EKS-KubernetesObjectValue")))
    assert knative_serving in _depends(template, crd_wait) and crd_wait in _depends(template, c["kserve-resources"])
    assert c["karpenter"] in _depends(template, manifests["EC2NodeClass"])
    assert manifests["EC2NodeClass"] in _depends(template, manifests["NodePool"])
    isvc = _depends(template, manifests["InferenceService"])
    assert {c["kserve-resources"], manifests["NodePool"], c["neuron-helm-chart"]} <= isvc


def test_karpenter_values_point_at_the_queue_and_pod_identity_sa(template: dict[str, Any]) -> None:
    values = _detokenize(_charts(template)["karpenter"][1]["Properties"]["Values"])
    values = json.loads(values.replace(PLACEHOLDER, "queue"))
    assert values["settings"] == {"clusterName": "llm-inferentia", "interruptionQueue": "queue"}
    assert values["serviceAccount"] == {"create": False, "name": "karpenter"}
    assoc = [r["Properties"] for r in _resources(template, "AWS::EKS::PodIdentityAssociation").values()]
    assert {(a["Namespace"], a["ServiceAccount"]) for a in assoc} == {
        ("kube-system", "karpenter"),
        ("llm", "llm-model-reader"),
    }


def test_neuron_chart_monitor_only_and_no_builtin_plugin(template: dict[str, Any]) -> None:
    values = json.loads(_detokenize(_charts(template)["neuron-helm-chart"][1]["Properties"]["Values"]))
    assert "devicePlugin" not in values  # chart 1.1.2 has no devicePlugin.enabled: the plugin is always installed
    assert values["npd"] == {"enabled": True, "nodeRecovery": {"enabled": False}}
    assert values["scheduler"] == {"enabled": False}  # one device per replica by default
    assert "neuron-device-plugin" not in json.dumps(template)
    nodegroups = [r["Properties"] for r in _resources(template, "AWS::EKS::Nodegroup").values()]
    assert all(not any(t.startswith("inf") for t in n["InstanceTypes"]) for n in nodegroups)


# ---------------------------------------------------------------- interruption handling + IAM


def test_interruption_rules_cover_every_event_karpenter_handles(template: dict[str, Any]) -> None:
    queue_id = next(iter(_resources(template, "AWS::SQS::Queue")))
    queue = template["Resources"][queue_id]["Properties"]
    assert queue["MessageRetentionPeriod"] == 300 and queue["SqsManagedSseEnabled"] is True
    rules = _resources(template, "AWS::Events::Rule").values()
    seen = set()
    for r in rules:
        pattern = r["Properties"]["EventPattern"]
        seen.add((pattern["source"][0], pattern["detail-type"][0]))
        assert r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert seen == {(s, d) for _, s, d in INTERRUPTION_EVENTS}
    assert {d for _, d in seen} >= {
        "AWS Health Event",
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
    }


def _karpenter_policy(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    policy = next(
        r
        for r in _resources(template, "AWS::IAM::ManagedPolicy").values()
        if "Karpenter" in r["Properties"].get("Description", "")
    )
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_karpenter_controller_statements(template: dict[str, Any]) -> None:
    st = _karpenter_policy(template)
    assert st["AllowPassingInstanceRole"]["Action"] == "iam:PassRole"
    assert st["AllowPassingInstanceRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}
    }
    assert st["AllowScopedDeletion"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/kubernetes.io/cluster/llm-inferentia": "owned"
    }
    tagged = st["AllowScopedEC2InstanceActionsWithTags"]["Condition"]["StringEquals"]
    assert tagged["aws:RequestTag/eks:eks-cluster-name"] == "llm-inferentia"
    assert set(st["AllowInterruptionQueueActions"]["Action"]) == {
        "sqs:DeleteMessage",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
    }
    assert st["AllowAPIServerEndpointDiscovery"]["Action"] == "eks:DescribeCluster"
    # "*" only where AWS has no resource-level permissions
    star = {sid for sid, s in st.items() if s["Resource"] == "*"}
    assert star == {"AllowRegionalReadActions", "AllowPricingReadActions", "AllowUnscopedInstanceProfileListAction"}
    assert all(a.startswith("ec2:Describe") for a in st["AllowRegionalReadActions"]["Action"])
    assert not any("FullAccess" in json.dumps(r) for r in template["Resources"].values())


def test_node_access_entry_and_model_read_scope(template: dict[str, Any]) -> None:
    types = {
        r["Properties"]["Type"]
        for r in _resources(template, "AWS::EKS::AccessEntry").values()
        if "Type" in r["Properties"]
    }
    assert "EC2_LINUX" in types
    model = next(
        r
        for r in _resources(template, "AWS::IAM::ManagedPolicy").values()
        if "model" in r["Properties"].get("Description", "")
    )
    sids = {s["Sid"]: s for s in model["Properties"]["PolicyDocument"]["Statement"]}
    assert sids["ReadModelWeights"]["Action"] == "s3:GetObject"
    assert sids["ListModelWeights"]["Condition"] == {"StringLike": {"s3:prefix": ["models/tinyllama-1.1b-chat-v1.0/*"]}}


def test_cluster_private_encrypted_logged(template: dict[str, Any]) -> None:
    props = next(iter(_resources(template, "AWS::EKS::Cluster").values()))["Properties"]
    assert props["ResourcesVpcConfig"]["EndpointPublicAccess"] is False
    assert props["Version"] == "1.34" and props["Name"] == "llm-inferentia"
    assert props["EncryptionConfig"][0]["Resources"] == ["secrets"]
    assert len(props["Logging"]["ClusterLogging"]["EnabledTypes"]) == 5


# ---------------------------------------------------------------- manifests against pinned schemas


def test_every_generated_manifest_validates(template: dict[str, Any]) -> None:
    docs = generated_manifests(template)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "EC2NodeClass",
            "EC2NodeClass",
            "NodePool",
            "NodePool",
            "NodePool",
            "InferenceService",
            "Namespace",
            "Namespace",
            "KnativeServing",
            "ServiceAccount",
            "ServiceAccount",
        ]
    )
    problems = {f"{d['kind']}/{d['metadata']['name']}": schema_errors(d) for d in docs}
    assert not any(problems.values()), problems


def _emitted_plan(synthesis: Synthesis, template: dict[str, Any]) -> EksPlan:
    """The stack's plan with the manifests and Helm values replaced by what the template really contains."""
    plan: EksPlan = synthesis.stacks["InferentiaStack"].inferentia.plan
    kinds = {"EC2NodeClass", "NodePool", "InferenceService", "KnativeServing"}
    charts = {
        name: json.loads(_detokenize(r["Properties"]["Values"])) if "Values" in r["Properties"] else None
        for name, (_, r) in _charts(template).items()
    }
    return dataclasses.replace(
        plan,
        manifests=tuple(d for d in generated_manifests(template) if d["kind"] in kinds),
        helm_releases=tuple(
            HelmRelease(chart=name, version=_charts(template)[name][1]["Properties"]["Version"], values=charts[name])
            for name in charts
        ),
    )


def test_emitted_template_passes_every_upstream_rule(synthesis: Synthesis, template: dict[str, Any]) -> None:
    plan = _emitted_plan(synthesis, template)
    assert {m["kind"] for m in plan.manifests} == {"EC2NodeClass", "NodePool", "InferenceService", "KnativeServing"}
    assert len(plan.helm_releases) == 7
    assert RULES.problems(plan) == []


def _doc(template: dict[str, Any], kind: str, name: str | None = None) -> dict[str, Any]:
    return copy.deepcopy(
        next(d for d in generated_manifests(template) if d["kind"] == kind and name in (None, d["metadata"]["name"]))
    )


def test_schema_rejects_bad_nodepool(template: dict[str, Any]) -> None:
    pool = _doc(template, "NodePool", "inf2-spot")
    pool["spec"]["disruption"]["consolidationPolicy"] = "WhenUnderutilized"
    del pool["spec"]["template"]["spec"]["nodeClassRef"]["group"]
    errors = "\n".join(schema_errors(pool))
    assert "'WhenUnderutilized' is not one of" in errors and "'group' is a required property" in errors


def test_schema_rejects_bad_nodeclass_and_inference_service(template: dict[str, Any]) -> None:
    ncls = _doc(template, "EC2NodeClass", "neuron")
    ncls["spec"]["metadataOptions"]["httpTokens"] = "sometimes"
    assert any("'sometimes' is not one of" in e for e in schema_errors(ncls))
    isvc = _doc(template, "InferenceService")
    isvc["spec"]["predictor"]["bogus"] = 1
    isvc["spec"]["predictor"]["minReplicas"] = "two"
    errors = "\n".join(schema_errors(isvc))
    assert "'bogus' was unexpected" in errors and "'two' is not of type 'integer'" in errors


def test_inference_service_serves_from_s3_with_neuron(template: dict[str, Any]) -> None:
    isvc = _doc(template, "InferenceService")
    pred = isvc["spec"]["predictor"]
    c = pred["containers"][0]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["STORAGE_URI"].startswith("s3://") and env["STORAGE_URI"].endswith("/models/tinyllama-1.1b-chat-v1.0/")
    assert env["HF_HUB_OFFLINE"] == "1" and env["NEURON_COMPILED_ARTIFACTS"] == "/cache/neuron"
    assert "--tensor-parallel-size=2" in c["args"] and "--max-model-len=2048" in c["args"]
    # vllm-neuron README Known Issues 2: ceil(2048 / 2048) x 8 sequences (block_size = max_model_len without prefix
    # caching)
    assert "--num-gpu-blocks-override=8" in c["args"] and "--no-enable-prefix-caching" in c["args"]
    assert c["resources"]["requests"]["aws.amazon.com/neuron"] == "1"
    assert pred["serviceAccountName"] == "llm-model-reader" and pred["minReplicas"] == 0
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert pred["scaleMetric"] == "concurrency"
    # KServe adds spec.predictor.annotations to the pod; Karpenter does not consolidate nodes running such pods
    assert pred["annotations"] == {"karpenter.sh/do-not-disrupt": "true"}


def test_default_model_is_on_vllm_neurons_supported_list() -> None:
    # vllm-neuron README "Models Supported": Llama 2/3.1/3.3, Llama 4, Qwen 2.5/3. Llama-3.2-1B failed to compile on SDK
    # 2.28 (NCC_ITEN404, kubernetes-sigs/wg-serving#70); TinyLlama-1.1B (Llama 2 architecture) is the README's own
    # server example.
    model = VllmNeuronModel()
    assert (model.name, model.family, model.parameters_billions) == ("tinyllama-1-1b-chat", "llama-2", 1.1)
    assert "llama-3.2" not in model.model_s3_prefix


# ---------------------------------------------------------------- upstream rules, each failing on a bad plan


def _model_stack(**kwargs: Any) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    EksInferentiaCluster(stack, "C", **kwargs)


def _plan(**kwargs: Any) -> EksPlan:
    return EksInferentiaCluster(cdk.Stack(cdk.App(), "S"), "C", **kwargs).plan


def _with_isvc(plan: EksPlan, mutate: Any) -> EksPlan:
    manifests = copy.deepcopy(list(plan.manifests))
    mutate(next(m for m in manifests if m["kind"] == "InferenceService"))
    return dataclasses.replace(plan, manifests=tuple(manifests))


def _with_manifests(plan: EksPlan, kind: str, mutate: Any) -> EksPlan:
    manifests = copy.deepcopy(list(plan.manifests))
    for m in manifests:
        if m["kind"] == kind:
            mutate(m)
    return dataclasses.replace(plan, manifests=tuple(manifests))


def _with_values(plan: EksPlan, chart: str, values: dict[str, Any]) -> EksPlan:
    return dataclasses.replace(
        plan,
        helm_releases=tuple(
            dataclasses.replace(r, values=values) if r.chart == chart else r for r in plan.helm_releases
        ),
    )


def test_rule_nodegroup_ami_type() -> None:
    # aws/aws-cdk#37012 and the EKS User Guide: no AL2 AMIs (AL2_x86_64, AL2_ARM_64, ...) for Kubernetes 1.33 and later.
    plan = _plan()
    assert plan.system_nodes.ami_type == "AL2023_x86_64_STANDARD"
    bad = dataclasses.replace(plan, system_nodes=dataclasses.replace(plan.system_nodes, ami_type="AL2_x86_64"))
    assert "AL2 AMIs end at 1.32" in expect_rule("EKS.NODEGROUP_AMI_TYPE", RULES.problems(bad))


def test_system_nodegroup_is_al2023_even_without_the_feature_flag(template: dict[str, Any]) -> None:
    # Regression: without @aws-cdk/aws-eks:defaultToAL2023, aws_eks_v2 picks AL2_x86_64, which EKS 1.33+ rejects (deploy
    # fails).
    (nodegroup,) = [r["Properties"] for r in _resources(template, "AWS::EKS::Nodegroup").values()]
    assert nodegroup["AmiType"] == "AL2023_x86_64_STANDARD"
    app = cdk.App(post_cli_context={"@aws-cdk/aws-eks:defaultToAL2023": False})
    c = EksInferentiaCluster(cdk.Stack(app, "S"), "C")
    assert c.system_nodes.node.default_child.ami_type == "AL2023_x86_64_STANDARD"
    graviton = EksInferentiaCluster(cdk.Stack(app, "G"), "C", system_node_instance_type="m7g.xlarge")
    assert graviton.system_nodes.node.default_child.ami_type == "AL2023_ARM_64_STANDARD"


def test_rule_knative_podspec_fields(template: dict[str, Any]) -> None:
    # knative/serving knative-v1.21.1 fieldmask.go:247-255 keeps nodeSelector/tolerations only when config-features
    # enables kubernetes.podspec-nodeselector / -tolerations (features.go:90,100: Disabled by default); fieldmask.go:292
    # always drops terminationGracePeriodSeconds; the webhook (k8s_validation.go:398) rejects the ksvc KServe builds
    # from the predictor.
    serving = _doc(template, "KnativeServing")
    assert serving["spec"]["config"]["features"] == {
        "kubernetes.podspec-nodeselector": "enabled",
        "kubernetes.podspec-tolerations": "enabled",
    }
    assert "terminationGracePeriodSeconds" not in _doc(template, "InferenceService")["spec"]["predictor"]
    plan = _plan()
    no_features = _with_manifests(plan, "KnativeServing", lambda m: m["spec"]["config"].pop("features"))
    msgs = [p for p in RULES.problems(no_features) if p.startswith("[EKS.KNATIVE_PODSPEC_FIELDS]")]
    assert len(msgs) == 2 and "'nodeSelector' needs Knative feature 'kubernetes.podspec-nodeselector'" in msgs[0]
    grace = _with_isvc(plan, lambda m: m["spec"]["predictor"].update(terminationGracePeriodSeconds=120))
    assert "never allows predictor field 'terminationGracePeriodSeconds'" in expect_rule(
        "EKS.KNATIVE_PODSPEC_FIELDS", RULES.problems(grace)
    )
    lifecycle = _with_isvc(plan, lambda m: m["spec"]["predictor"]["containers"][0].update(lifecycle={}))
    assert "container field 'lifecycle'" in expect_rule("EKS.KNATIVE_PODSPEC_FIELDS", RULES.problems(lifecycle))
    # "Allowed" counts (features.go asFlag), any other value keeps the default Disabled
    allowed = _with_manifests(
        plan,
        "KnativeServing",
        lambda m: m["spec"]["config"]["features"].update(
            {"kubernetes.podspec-nodeselector": "Allowed", "kubernetes.podspec-tolerations": "on"}
        ),
    )
    assert [p for p in RULES.problems(allowed) if "KNATIVE" in p] == [
        "[EKS.KNATIVE_PODSPEC_FIELDS] InferenceService 'tinyllama-1-1b-chat': predictor field 'tolerations' needs "
        "Knative feature 'kubernetes.podspec-tolerations' enabled (KnativeServing spec.config.features), got 'on'"
    ]
    # Raw mode is a plain Deployment: terminationGracePeriodSeconds is kept for spot notices, and the mask does not
    # apply
    raw = _plan(serving_mode=ServingMode.RAW_DEPLOYMENT, model=VllmNeuronModel(min_replicas=1))
    raw_isvc = next(m for m in raw.manifests if m["kind"] == "InferenceService")
    assert raw_isvc["spec"]["predictor"]["terminationGracePeriodSeconds"] == 120
    assert RULES.problems(raw) == []


def test_knative_features_follow_the_predictor_fields() -> None:
    pod = predictor_pod_spec(
        {
            "minReplicas": 0,
            "annotations": {},
            "nodeSelector": {},
            "tolerations": [],
            "schedulerName": "s",
            "containers": [],
        }
    )
    assert set(pod) == {"nodeSelector", "tolerations", "schedulerName", "containers"}
    assert knative_features_needed(pod) == {
        "kubernetes.podspec-nodeselector": "enabled",
        "kubernetes.podspec-schedulername": "enabled",
        "kubernetes.podspec-tolerations": "enabled",
    }


def _multi_device_kwargs() -> dict[str, Any]:
    s = InferentiaSettings(
        neuron_devices=6,
        tensor_parallel_size=12,
        cpu="32",
        memory="128Gi",
        max_replicas=1,
        model_parameters_billions=8,
        spot_neuron_limit=12,
        on_demand_neuron_limit=6,
    )
    return {"model": s.model, "inf2_node_pools": s.node_pools}


def test_multi_device_replicas_use_the_neuron_custom_scheduler() -> None:
    # neuron-helm-charts 1.1.2 custom-scheduler.yaml: a second kube-scheduler named by customScheduler.fullnameOverride
    # ('my-scheduler'); the defaultScheduler mode (old code) needs a self-managed control plane and cannot work on EKS.
    c = EksInferentiaCluster(cdk.Stack(cdk.App(), "S"), "C", **_multi_device_kwargs())
    scheduler = c.helm_values["neuron-helm-chart"]["scheduler"]
    assert scheduler == {
        "enabled": True,
        "defaultScheduler": {"enabled": False},
        "customScheduler": {
            "enabled": True,
            "image": {"repository": "registry.k8s.io/kube-scheduler", "tag": "v1.34.3"},
        },
    }
    assert c.inference_service_manifest["spec"]["predictor"]["schedulerName"] == "my-scheduler"
    serving = next(m for m in c.plan.manifests if m["kind"] == "KnativeServing")
    assert serving["spec"]["config"]["features"]["kubernetes.podspec-schedulername"] == "enabled"
    assert ("my-scheduler (Neuron custom kube-scheduler)", 100) in system_cpu_requests(c.plan)
    assert RULES.problems(c.plan) == []


def test_rule_neuron_scheduler_mode() -> None:
    # neuron-helm-charts 1.1.2 scheduler-extn.yaml/_helpers.tpl: defaultScheduler mode = hostNetwork NodePort 32700 on
    # node-role.kubernetes.io/master nodes, an extender for a self-managed kube-scheduler; EKS has neither.
    plan = EksInferentiaCluster(cdk.Stack(cdk.App(), "S"), "C", **_multi_device_kwargs()).plan
    old = _with_values(
        plan,
        "neuron-helm-chart",
        {
            "devicePlugin": {"enabled": True},
            "scheduler": {
                "enabled": True,
                "customScheduler": {"enabled": False},
                "defaultScheduler": {"enabled": True},
            },
        },
    )
    msgs = [p for p in RULES.problems(old) if p.startswith("[EKS.NEURON_SCHEDULER_MODE]")]
    assert "cannot load the extender" in msgs[0] and "set the predictor's schedulerName to 'my-scheduler'" in msgs[1]
    unnamed = _with_isvc(plan, lambda m: m["spec"]["predictor"].pop("schedulerName"))
    assert "requests 6 Inferentia2 devices" in expect_rule("EKS.NEURON_SCHEDULER_MODE", RULES.problems(unnamed))
    dangling = _with_isvc(_plan(), lambda m: m["spec"]["predictor"].update(schedulerName="my-scheduler"))
    assert "no such scheduler is installed" in expect_rule("EKS.NEURON_SCHEDULER_MODE", RULES.problems(dangling))


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        (None, "kube-scheduler 1.28 on a Kubernetes 1.34 cluster"),  # the chart's default image, kube-scheduler v1.28.5
        ("v1.35.0", "kube-scheduler 1.35 on a Kubernetes 1.34 cluster"),  # newer than the API server
        ("v1.33.9", None),  # one minor older: allowed
    ],
)
def test_rule_neuron_scheduler_skew(tag: str | None, problem: str | None) -> None:
    # Kubernetes version-skew policy: kube-scheduler not newer than kube-apiserver, at most one minor older.
    plan = EksInferentiaCluster(cdk.Stack(cdk.App(), "S"), "C", **_multi_device_kwargs()).plan
    image = {"image": {"repository": "registry.k8s.io/kube-scheduler", "tag": tag}} if tag else {}
    scheduler = _with_values(
        plan, "neuron-helm-chart", {"scheduler": {"enabled": True, "customScheduler": {"enabled": True, **image}}}
    )
    if problem is None:
        assert not [p for p in RULES.problems(scheduler) if "SKEW" in p]
    else:
        assert problem in expect_rule("EKS.NEURON_SCHEDULER_SKEW", RULES.problems(scheduler))


def test_rule_helm_values_keys(synthesis: Synthesis, template: dict[str, Any]) -> None:
    # Helm ignores unknown keys. neuron-helm-charts 1.1.2 values.yaml has no devicePlugin.enabled (the old code passed
    # it).
    plan = _emitted_plan(synthesis, template)
    assert not [p for p in RULES.problems(plan) if "HELM_VALUES_KEYS" in p]
    assert set(helm_values_keys()) >= {f"{r.chart}@{r.version}" for r in plan.helm_releases if r.values}
    old_neuron = _with_values(
        plan, "neuron-helm-chart", {"devicePlugin": {"enabled": True}, "scheduler": {"enabled": False}}
    )
    assert "has no values key 'devicePlugin.enabled'" in expect_rule("EKS.HELM_VALUES_KEYS", RULES.problems(old_neuron))
    typo = _with_values(
        plan,
        "karpenter",
        {"settings": {"clusterName": "x", "interuptionQueue": "q"}, "controller": {"resources": {"x": 1}}},
    )
    msgs = [p for p in RULES.problems(typo) if "HELM_VALUES_KEYS" in p]
    assert len(msgs) == 1 and "'settings.interuptionQueue'" in msgs[0]  # free-form controller.resources is accepted
    unknown_chart = dataclasses.replace(
        plan, helm_releases=(HelmRelease(chart="karpenter", version="9.9.9", values={"replicas": 1}),)
    )
    assert "no list of values keys for chart karpenter@9.9.9" in expect_rule(
        "EKS.HELM_VALUES_KEYS", RULES.problems(unknown_chart)
    )


def test_rule_system_node_cpu() -> None:
    # kube-scheduler fits requests into allocatable = vCPU - EKS kube-reserved (amazon-eks-ami nodeadm: 70m on 2 vCPU).
    # 2 x m7i.large (the old default) allocate 3860m; Karpenter (2 x 1 CPU), Knative, Kourier, KServe, CoreDNS and the
    # DaemonSets request 3880m.
    msg = expect_rule("EKS.SYSTEM_NODE_CPU", lambda: _model_stack(system_node_instance_type="m7i.large"))
    assert "2 x m7i.large allocates 3860m CPU (1930m per node) but its pods request 3880m" in msg
    plan = _plan()
    assert (plan.system_nodes.instance_type, plan.system_nodes.node_count) == ("m7i.xlarge", 2)
    assert not [p for p in RULES.problems(plan) if "SYSTEM_NODE_CPU" in p]  # 7840m allocatable
    three_large = _plan(system_node_instance_type="m7i.large", system_node_count=3)
    assert not [p for p in RULES.problems(three_large) if "SYSTEM_NODE_CPU" in p]


def test_rule_nodeclass_reference() -> None:
    # Karpenter v1.14.1 NodePool nodeClassRef must resolve to an EC2NodeClass, or the pool launches nothing.
    bad = _with_manifests(
        _plan(),
        "NodePool",
        lambda m: (
            m["spec"]["template"]["spec"]["nodeClassRef"].update(name="gpu")
            if m["metadata"]["name"] == "general"
            else None
        ),
    )
    assert (
        "NodePool 'general' references EC2NodeClass 'gpu', which is not defined (defined: default, neuron)"
        in expect_rule("EKS.NODEPOOL_NODECLASS_REF", RULES.problems(bad))
    )


def test_rule_neuron_toleration() -> None:
    # Kubernetes taints: pods without a toleration for the NodePools' aws.amazon.com/neuron NoSchedule taint never land
    # there.
    bad = _with_isvc(_plan(), lambda m: m["spec"]["predictor"].update(tolerations=[]))
    assert "does not tolerate the aws.amazon.com/neuron taint" in expect_rule(
        "EKS.NEURON_TOLERATION", RULES.problems(bad)
    )


def test_rule_neuron_devices_per_node() -> None:
    # Neuron docs: inf2.xlarge and inf2.8xlarge have one Inferentia2 device; the device plugin advertises that many.
    msg = expect_rule(
        "EKS.NEURON_DEVICES_PER_NODE",
        lambda: _model_stack(model=VllmNeuronModel(neuron_devices=2, tensor_parallel_size=4, max_replicas=1)),
    )
    assert (
        "requests 2 Inferentia2 device(s) but NodePool 'inf2-spot' allows only inf2.xlarge (1), inf2.8xlarge (1)" in msg
    )
    no_devices = _with_isvc(
        _plan(), lambda m: m["spec"]["predictor"]["containers"][0]["resources"]["requests"].pop("aws.amazon.com/neuron")
    )
    assert "requests no aws.amazon.com/neuron" in expect_rule("EKS.NEURON_DEVICES_PER_NODE", RULES.problems(no_devices))


def test_rule_pod_fits_node_and_tensor_parallel_cores() -> None:
    # kube-scheduler NodeResourcesFit against inf2.xlarge's schedulable capacity; vllm-neuron tp_degree <= NeuronCores
    # (2 per device).
    pools = tuple(
        Inf2NodePool(
            name=p.name,
            capacity_type=p.capacity_type,
            instance_types=("inf2.xlarge",),
            neuron_limit=p.neuron_limit,
            weight=p.weight,
        )
        for p in DEFAULT_INF2_NODE_POOLS
    )
    model = VllmNeuronModel(cpu="8", memory="24Gi", tensor_parallel_size=4)
    build = lambda: _model_stack(inf2_node_pools=pools, model=model)  # noqa: E731
    assert (
        "requests cpu 8 and memory 24Gi, more than any size in NodePool 'inf2-spot' can allocate: inf2.xlarge "
        "(3.4 cpu, 13Gi)" in expect_rule("EKS.POD_FITS_NODE", build)
    )
    assert "tensor parallel size 4 exceeds the 2 NeuronCores of 1 Inferentia2 device(s)" in expect_rule(
        "EKS.TENSOR_PARALLEL_CORES", build
    )


def test_rule_nodepool_neuron_limits() -> None:
    # Karpenter NodePool spec.limits: no launches past the limit, so maxReplicas x devices must fit.
    msg = expect_rule("EKS.NODEPOOL_NEURON_LIMITS", lambda: _model_stack(model=VllmNeuronModel(max_replicas=10)))
    assert "maxReplicas 10 x 1 device(s) = 10 aws.amazon.com/neuron, but the inf2 NodePool limits add up to 6" in msg


def test_rule_scale_to_zero_mode() -> None:
    # KServe v0.20.0 hpa_reconciler.go:153-157 raises minReplicas 0 to 1 in Standard (raw) mode.
    msg = expect_rule(
        "EKS.SCALE_TO_ZERO_MODE",
        lambda: _model_stack(serving_mode=ServingMode.RAW_DEPLOYMENT, model=VllmNeuronModel(min_replicas=0)),
    )
    assert "minReplicas 0 (scale to zero) needs Knative mode, but the deployment mode is 'Standard'" in msg


def test_rule_vllm_neuron_model_family() -> None:
    # vllm-neuron README "Models Supported"; wg-serving#70: Llama-3.2-1B fails to compile on Neuron SDK 2.28
    # (NCC_ITEN404).
    msg = expect_rule("EKS.VLLM_NEURON_MODEL_FAMILY", lambda: _model_stack(model=VllmNeuronModel(family="llama-3.2")))
    assert "NCC_ITEN404" in msg and "choose one of llama-2" in msg
    assert "not served by vllm-neuron" in expect_rule(
        "EKS.VLLM_NEURON_MODEL_FAMILY", lambda: _model_stack(model=VllmNeuronModel(family="mistral"))
    )


def test_rule_neuron_device_memory() -> None:
    # Neuron docs: 32 GiB per Inferentia2 device, 16 GiB per NeuronCore-v2; 8B x 2 bytes = 14.9 GiB fits TP 2, 70B does
    # not.
    assert not [p for p in RULES.problems(_plan(model=VllmNeuronModel(parameters_billions=8))) if "DEVICE_MEMORY" in p]
    msg = expect_rule("EKS.NEURON_DEVICE_MEMORY", lambda: _model_stack(model=VllmNeuronModel(parameters_billions=70)))
    assert "130.4 GiB of 16-bit weights, 65.2 GiB per NeuronCore at tensor parallel size 2, more than the 16 GiB" in msg


def test_rule_vllm_neuron_gpu_blocks() -> None:
    # vllm-neuron README Known Issues 2: --num-gpu-blocks-override = ceil(max_model_len // block_size) x max_num_seqs,
    # block_size = max_model_len with prefix caching off (vllm_neuron/platform.py:204-206).
    plan = _plan(model=VllmNeuronModel(max_num_seqs=4))
    isvc = next(m for m in plan.manifests if m["kind"] == "InferenceService")
    assert "--num-gpu-blocks-override=4" in isvc["spec"]["predictor"]["containers"][0]["args"]
    missing = _with_isvc(
        plan, lambda m: m["spec"]["predictor"]["containers"][0]["args"].remove("--num-gpu-blocks-override=4")
    )
    assert "pass --num-gpu-blocks-override=4 (ceil(2048/2048) x 4), got None" in expect_rule(
        "EKS.VLLM_NEURON_GPU_BLOCKS", RULES.problems(missing)
    )
    prefix = _with_isvc(
        plan,
        lambda m: m["spec"]["predictor"]["containers"][0]["args"].__setitem__(
            slice(None),
            [a for a in m["spec"]["predictor"]["containers"][0]["args"] if a != "--no-enable-prefix-caching"]
            + ["--enable-prefix-caching"],
        ),
    )
    assert "needs --block-size" in expect_rule("EKS.VLLM_NEURON_GPU_BLOCKS", RULES.problems(prefix))


def test_model_s3_prefix_rejects_a_uri() -> None:
    with pytest.raises(
        PropsValidationError, match=r"model_s3_prefix 's3://bucket/models/x/' is a URI: pass the key prefix only"
    ):
        _model_stack(model=VllmNeuronModel(model_s3_prefix="s3://bucket/models/x/"))


def test_kserve_chart_waits_for_the_knative_service_crd(template: dict[str, Any]) -> None:
    # KServe v0.20.0 controller.go: without the Knative Service CRD at start-up the controller never watches ksvcs, and
    # an InferenceService reconciled before it exists gets a TerminalError. KubernetesObjectValue polls kubectl until
    # the CRD's Established condition (reason InitialNamesAccepted, set only with status True) appears.
    ((lid, value),) = _resources(template, "Custom::AWSCDK-EKS-KubernetesObjectValue").items()
    props = value["Properties"]
    assert (props["ObjectType"], props["ObjectName"]) == ("customresourcedefinition", "services.serving.knative.dev")
    assert props["JsonPath"] == '.status.conditions[?(@.reason=="InitialNamesAccepted")].status'
    assert int(props["TimeoutSeconds"]) == 600
    knative_serving = next(
        k
        for k, r in _resources(template, "Custom::AWSCDK-EKS-KubernetesResource").items()
        if "KnativeServing" in _detokenize(r["Properties"]["Manifest"])
    )
    assert knative_serving in _depends(template, lid)
    assert lid in _depends(template, _charts(template)["kserve-resources"][0])


def test_kourier_is_not_exposed_through_a_load_balancer(template: dict[str, Any]) -> None:
    # knative/operator kodata ingress/1.21/kourier: Service 'kourier' is type LoadBalancer unless
    # spec.ingress.kourier.service-type says otherwise (pkg/reconciler/knativeserving/ingress/kourier.go:88-97);
    # aws_eks_v2 tags public subnets kubernetes.io/role/elb.
    assert _doc(template, "KnativeServing")["spec"]["ingress"]["kourier"] == {
        "enabled": True,
        "service-type": "ClusterIP",
    }


# ---------------------------------------------------------------- metrics


def test_metrics_are_ones_aws_publishes_without_agents() -> None:
    # AWS/SQS (SQS Developer Guide "Available CloudWatch metrics", dimension QueueName), AWS/Events (EventBridge User
    # Guide "Monitoring Amazon EventBridge", dimension RuleName; FailedInvocations is sent only when not zero) and
    # AWS/EKS (EKS User Guide "Monitor cluster data with Amazon CloudWatch": vended for 1.28+, dimension ClusterName;
    # names as in aws-cdk-lib 2.275 aws-eks-v2 eks-canned-metrics.generated.d.ts).
    stack = cdk.Stack(cdk.App(), "S")
    c = EksInferentiaCluster(stack, "C")
    queue = stack.get_logical_id(c.interruption_queue.node.default_child)

    def shape(m: Any) -> tuple[str, str, dict[str, Any], str, int]:
        return m.namespace, m.metric_name, stack.resolve(m.dimensions), m.statistic, int(m.period.to_seconds())

    assert shape(c.metric_interruption_queue_depth()) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}},
        "Maximum",
        300,
    )
    assert shape(c.metric_interruption_queue_oldest_event_age())[1] == "ApproximateAgeOfOldestMessage"
    spot = stack.get_logical_id(c.interruption_rules["SpotInterruption"].node.default_child)
    assert shape(c.metric_interruption_events("SpotInterruption")) == (
        "AWS/Events",
        "TriggeredRules",
        {"RuleName": {"Ref": spot}},
        "Sum",
        300,
    )
    with pytest.raises(KeyError, match="no interruption rule 'Spot'; rules: ScheduledChange, SpotInterruption"):
        c.metric_interruption_events("Spot")
    failures = c.metric_interruption_delivery_failures()
    assert failures.expression == " + ".join(f"FILL(r{i}, 0)" for i in range(len(INTERRUPTION_EVENTS)))
    assert {m.metric_name for m in failures.using_metrics.values()} == {"FailedInvocations"}
    assert {stack.resolve(m.dimensions)["RuleName"]["Ref"] for m in failures.using_metrics.values()} == {
        stack.get_logical_id(r.node.default_child) for r in c.interruption_rules.values()
    }
    cluster = {"ClusterName": "llm-inferentia"}
    assert shape(c.metric_unschedulable_pods()) == (
        "AWS/EKS",
        "scheduler_pending_pods_UNSCHEDULABLE",
        cluster,
        "Sum",
        60,
    )
    assert shape(c.metric_pending_pods())[1] == "scheduler_pending_pods"
    assert shape(c.metric_api_server_errors()) == ("AWS/EKS", "apiserver_request_total_5XX", cluster, "Sum", 300)
    assert shape(c.metric("apiserver_request_total_429", statistic="Sum", period=cdk.Duration.minutes(5)))[4] == 300


# ---------------------------------------------------------------- grants


def test_grant_upload_writes_only_under_the_model_prefix() -> None:
    # One verb per thing (convention 5): uploads are grant_upload, as on DocumentIndex.
    stack = cdk.Stack(cdk.App(), "S")
    c = EksInferentiaCluster(stack, "C")
    uploader = iam.Role(stack, "Uploader", assumed_by=iam.AccountRootPrincipal())
    assert c.grant_upload(uploader).success and not hasattr(c, "grant_model_upload")
    policy = stack.resolve(uploader.node.find_child("DefaultPolicy").document.to_json())
    pairs = {(s["Action"], json.dumps(s["Resource"])) for s in flat_statements(policy["Statement"])}
    bucket = stack.get_logical_id(c.model_bucket.node.default_child)
    key = stack.get_logical_id(c.model_bucket_key.node.default_child)
    objects = json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/models/tinyllama-1.1b-chat-v1.0/*"]]})
    assert ("s3:PutObject", objects) in pairs
    assert {r for _, r in pairs} == {objects, json.dumps({"Fn::GetAtt": [key, "Arn"]})}  # nothing outside the prefix


# ---------------------------------------------------------------- subnets


def _by_ids(*subnets: ec2.ISubnet) -> ec2.SubnetSelection:
    return ec2.SubnetSelection(subnet_filters=[ec2.SubnetFilter.by_ids([s.subnet_id for s in subnets])])


def test_vpc_subnets_place_the_cluster_system_nodes_and_karpenter_nodes() -> None:
    # One way to select subnets (_vpc.select_subnets, all six SubnetSelection fields): a filtered selection of two of
    # three private subnets gives the cluster, the node group and the Karpenter discovery tag exactly those two.
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region="us-east-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=3)  # three AZs (an environment-agnostic stack has two)
    chosen = vpc.private_subnets[1:]
    c = EksInferentiaCluster(stack, "C", vpc=vpc, vpc_subnets=_by_ids(*chosen))
    ids = [stack.resolve(s.subnet_id) for s in chosen]
    assert [stack.resolve(s.subnet_id) for s in c.subnets.subnets] == ids
    assert stack.resolve(c.cluster.node.default_child.resources_vpc_config)["subnetIds"] == ids
    assert stack.resolve(c.system_nodes.node.default_child.subnets) == ids
    # the default: the VPC's private subnets with egress, as before
    default = EksInferentiaCluster(cdk.Stack(cdk.App(), "D"), "C")
    assert len(default.subnets.subnets) == 2 and default.plan.subnet_availability_zones == tuple(
        s.availability_zone for s in default.vpc.private_subnets
    )


def test_rule_cluster_subnets() -> None:
    # botocore eks 2017-11-01 CreateClusterRequest.resourcesVpcConfig: "You must specify at least two subnets"; EKS
    # User Guide network-reqs: "The subnets must be in at least two different Availability Zones".
    stack = cdk.Stack(cdk.App(), "S")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    msg = expect_rule(
        "EKS.CLUSTER_SUBNETS",
        lambda: EksInferentiaCluster(stack, "C", vpc=vpc, vpc_subnets=_by_ids(vpc.private_subnets[0])),
    )
    assert "vpc_subnets selects 1 subnet(s); EKS needs at least two" in msg
    env = cdk.Stack(cdk.App(), "E", env=cdk.Environment(account="111111111111", region="us-east-1"))
    imported = ec2.Vpc.from_vpc_attributes(
        env, "Vpc", vpc_id="vpc-1", availability_zones=["us-east-1a"], private_subnet_ids=["subnet-1", "subnet-2"]
    )
    same_az = [
        ec2.Subnet.from_subnet_attributes(env, f"S{i}", subnet_id=f"subnet-{i}", availability_zone="us-east-1a")
        for i in (1, 2)
    ]
    msg = expect_rule(
        "EKS.CLUSTER_SUBNETS",
        lambda: EksInferentiaCluster(env, "C", vpc=imported, vpc_subnets=ec2.SubnetSelection(subnets=same_az)),
    )
    assert "vpc_subnets selects 2 subnets, all in us-east-1a" in msg


def test_a_vpc_without_egress_subnets_needs_vpc_subnets() -> None:
    # The charts come from public registries: the default selection (private subnets with egress) must exist.
    stack = cdk.Stack(cdk.App(), "S")
    isolated = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        subnet_configuration=[ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    with pytest.raises(PropsValidationError, match=r"vpc has no private subnets with egress \(PRIVATE_WITH_EGRESS\)"):
        EksInferentiaCluster(stack, "C", vpc=isolated)


def test_construct_props_problems_reported_together() -> None:
    bad_pools = (
        Inf2NodePool(name="od", capacity_type="on-demand", instance_types=("inf2.xlarge",), neuron_limit=4, weight=100),
        Inf2NodePool(name="spot", capacity_type="spot", instance_types=("g5.xlarge",), neuron_limit=0, weight=10),
    )
    with pytest.raises(PropsValidationError) as err:
        _model_stack(kubernetes_version="1.29", ami_alias="al2023@latest", inf2_node_pools=bad_pools)
    msg = str(err.value)
    assert msg.startswith("invalid EksInferentiaCluster at S/C (")  # the construct path, so the user sees which one
    for part in (
        "kubernetes_version '1.29' is not in the version matrix; supported: 1.33, 1.34",
        "ami_alias must be pinned",
        "NodePool 'spot': neuron_limit must be at least 1",
        "NodePool 'spot': instance_types must be inf2 sizes",
        "spot NodePools must have higher weights than on-demand ones",
    ):
        assert part in msg


def test_wrong_prop_types_are_named_together() -> None:
    # E-newcomer: kubernetes_version=1.34 (a float) used to say "1.34 is not in the version matrix; supported: 1.33,
    # 1.34". typed_props names every wrong type at once, with the fix.
    with pytest.raises(PropsTypeError) as err:
        _model_stack(
            kubernetes_version=1.34, system_node_count="2", serving_mode="raw", inf2_node_pools=[{"name": "inf2-spot"}]
        )
    msg = str(err.value)
    assert "EksInferentiaCluster at S/C" in msg and len(err.value.problems) == 4
    assert 'kubernetes_version must be str, got float 1.34 (pass the string "1.34" in quotes)' in msg
    assert "system_node_count must be int, got str '2' (pass the number 2 without quotes)" in msg
    assert "serving_mode must be ServingMode, got str 'raw'" in msg
    assert "inf2_node_pools[0] must be Inf2NodePool, got dict {'name': 'inf2-spot'}" in msg  # the bad item is named


def test_option_dataclasses_check_their_types() -> None:
    with pytest.raises(PropsTypeError, match=r"neuron_limit must be int, got str '4' \(pass the number 4"):
        Inf2NodePool(name="p", capacity_type="spot", instance_types=("inf2.xlarge",), neuron_limit="4", weight=1)
    with pytest.raises(PropsTypeError, match=r"(?s)VllmNeuronModel .*tensor_parallel_size must be int, got str '2'"):
        VllmNeuronModel(tensor_parallel_size="2")
    with pytest.raises(PropsTypeError, match=r"extra_env must be Mapping\[str, str\], got dict"):
        VllmNeuronModel(extra_env={"NEURON_RT_NUM_CORES": 2})
    pool = Inf2NodePool(name="p", capacity_type="spot", instance_types=["inf2.xlarge"], neuron_limit=1, weight=1)
    assert pool.instance_types == ("inf2.xlarge",) and pool.zones == ()  # a list is accepted and kept as a tuple


def _system_node_rule(instance_type: str) -> list[str]:
    plan = _plan()
    return RULES.problems(
        dataclasses.replace(plan, system_nodes=dataclasses.replace(plan.system_nodes, instance_type=instance_type))
    )


def test_rule_system_node_instance_type() -> None:
    # botocore 1.44.5 ec2 InstanceType: every EC2 type is <family>.<size>; E-newcomer's "m7i.lrge" used to be accepted
    # (and EKS.SYSTEM_NODE_CPU skipped it). aws-cdk-lib 2.275 aws-eks-v2 cluster.js addNodegroupCapacity adds its own
    # Neuron device plugin for inf1/inf2/trn1 node groups.
    msg = expect_rule("EKS.SYSTEM_NODE_INSTANCE_TYPE", lambda: _model_stack(system_node_instance_type="m7i.lrge"))
    assert "'m7i.lrge' is not an EC2 instance type: 'lrge' is not an EC2 size" in msg
    assert "(did you mean m7i.large?)" in msg
    msg = expect_rule("EKS.SYSTEM_NODE_INSTANCE_TYPE", _system_node_rule("m7x.xlarge"))
    assert "'m7x' is not one of the EC2 instance families in botocore 1.44.5" in msg and "m7i" in msg
    msg = expect_rule("EKS.SYSTEM_NODE_INSTANCE_TYPE", _system_node_rule("inf2.xlarge"))
    assert "aws_eks_v2 adds its own, outdated Neuron device plugin" in msg
    # the valid side: the default and every instance type of the pinned botocore's EC2 model
    assert not [p for p in RULES.problems(_plan()) if "SYSTEM_NODE_INSTANCE_TYPE" in p]
    import gzip

    import botocore

    model = Path(botocore.__file__).parent / "data" / "ec2" / "2016-11-15" / "service-2.json.gz"
    check = next(r for r in RULES if r.id == "EKS.SYSTEM_NODE_INSTANCE_TYPE")
    plan = _plan()
    rejected = [
        t
        for t in json.loads(gzip.decompress(model.read_bytes()))["shapes"]["InstanceType"]["enum"]
        if any(
            "is not an EC2 instance type" in p
            for p in check.problems(
                dataclasses.replace(plan, system_nodes=dataclasses.replace(plan.system_nodes, instance_type=t))
            )
        )
    ]
    assert rejected == [], f"regenerate eks_inferentia/data/ec2_instance_families.json from botocore: {rejected[:5]}"


def test_construct_missing_kubectl_layer_package_is_a_clear_error() -> None:
    try:
        import aws_cdk.lambda_layer_kubectl_v33  # noqa: F401
    except ImportError:
        with pytest.raises(PropsValidationError, match=r"pip install 'aws-cdk.lambda-layer-kubectl-v33==2.2.2'"):
            _model_stack(kubernetes_version="1.33")
    else:
        pytest.skip("the v33 layer is installed here")


def test_raw_deployment_mode_uses_hpa() -> None:
    app = cdk.App()
    c = EksInferentiaCluster(
        cdk.Stack(app, "S"), "C", serving_mode=ServingMode.RAW_DEPLOYMENT, model=VllmNeuronModel(min_replicas=1)
    )
    isvc = c.inference_service_manifest
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "hpa"
    assert isvc["spec"]["predictor"]["scaleMetric"] == "cpu"
    assert c.knative_operator_chart is None and [ch for ch in c.helm_charts if ch is None] == []
    resolved = json.loads(re.sub(r"\$\{Token\[[^\]]*\]\}", PLACEHOLDER, json.dumps(isvc)))
    assert schema_errors(resolved) == []


# ---------------------------------------------------------------- documentation


def _field_docs(cls: type) -> dict[str, str | None]:
    """Field (or enum member) name -> the string literal right after it in the class body, or None."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs: dict[str, str | None] = {}
    for node, nxt in zip(body, [*body[1:], None], strict=True):
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else (node.targets[0] if isinstance(node, ast.Assign) else None)
        )
        if isinstance(target, ast.Name):
            docs[target.id] = (
                nxt.value.value if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) else None
            )
    return docs


def test_every_public_prop_field_and_enum_member_states_its_default() -> None:
    # Convention 11: ":param x:" with "Default:" for every prop; every option field documented, optional ones with
    # their default, required ones saying so; every enum member documented.
    import inspect

    doc = inspect.getdoc(EksInferentiaCluster.__init__) or ""
    params = dict(re.findall(r":param (\w+): (.*?)(?=\n:param |\Z)", doc, re.S))
    kwonly = [
        n for n, p in inspect.signature(EksInferentiaCluster.__init__).parameters.items() if p.kind is p.KEYWORD_ONLY
    ]
    assert sorted(params) == sorted(kwonly)
    assert [n for n in kwonly if "Default:" not in params[n]] == []
    for cls in (Inf2NodePool, VllmNeuronModel):
        for f in dataclasses.fields(cls):
            text = _field_docs(cls)[f.name] or ""
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            assert ("Required." if required else "Default:") in text, (cls.__name__, f.name, text)
    for cls in (
        ServingMode,
        EksPlan,
        HelmRelease,
        SystemNodeGroup,
        CostCeiling,
        ComponentVersions,
        KubectlLayerPin,
        Inf2Instance,
    ):
        assert None not in _field_docs(cls).values(), (cls.__name__, _field_docs(cls))


# ---------------------------------------------------------------- version matrix + cost


def test_version_matrix_rows_are_consistent() -> None:
    minimums = karpenter_minimums()
    for k8s, row in version_matrix().items():
        assert version_tuple(row.karpenter) >= version_tuple(minimums[k8s]), k8s
        assert row.kubectl_layer.pypi.endswith(f"v{k8s.split('.')[1]}"), k8s
        assert (SCHEMAS / f"karpenter-v{row.karpenter}").is_dir() and (SCHEMAS / f"kserve-{row.kserve}").is_dir(), k8s
        assert set(kserve_modes(row.kserve)) == {"knative", "raw", "controller_chart"}
    installed = Path(__file__).resolve().parent.parent / "requirements.txt"
    assert f"{VERSIONS.kubectl_layer.pypi}=={VERSIONS.kubectl_layer.version}" in installed.read_text()


def test_cost_ceiling_from_price_table(synthesis: Synthesis, template: dict[str, Any]) -> None:
    stack = synthesis.stacks["InferentiaStack"]
    ceiling = stack.inferentia.cost_ceiling()
    prices = inf2_prices("us-east-1")
    # spot: 4 devices -> 4 x inf2.8xlarge is the priciest fleet; on-demand: 2 x inf2.8xlarge
    assert ceiling.per_pool_usd_per_hour == {
        "inf2-spot": 4 * prices["inf2.8xlarge"],
        "inf2-on-demand": 2 * prices["inf2.8xlarge"],
    }
    assert math.isclose(ceiling.usd_per_month, round(6 * prices["inf2.8xlarge"] * 730, 2))
    assert template["Outputs"]["Inf2CostCeilingUsdPerMonth"]["Value"] == f"{ceiling.usd_per_month:.2f}"
    with pytest.raises(KeyError, match="known regions: us-east-1"):
        stack.inferentia.cost_ceiling(region="eu-west-9")


def test_settings_from_context() -> None:
    s = InferentiaSettings.from_context(
        {"serving_mode": "raw", "min_replicas": 1, "neuron_devices": 6, "tensor_parallel_size": 12}
    )
    assert s.model.neuron_devices == 6 and s.node_pools[0].instance_types == ("inf2.24xlarge", "inf2.48xlarge")
    with pytest.raises(PropsValidationError) as err:
        InferentiaSettings.from_context({"serving_mode": "serverless", "replicas": 3})
    assert "unknown setting 'replicas'" in str(err.value)
    with pytest.raises(PropsValidationError, match="setting 'serving_mode' must be one of knative, raw"):
        InferentiaSettings.from_context({"serving_mode": "serverless"})


def test_settings_report_every_problem_in_one_pass() -> None:
    # E-newcomer row 10: ChatStack needed 3 synths (types, then allowed values, then the construct's checks). Here
    # unknown names, wrong types, an allowed-values problem and the cluster's own props checks come in one error.
    raw = json.dumps(
        {
            "serving_mode": "Raw",
            "min_replicas": "1",
            "replicas": 3,
            "kubernetes_version": 1.34,
            "cluster_name": "my cluster",
            "model_s3_prefix": "s3://bucket/models/x/",
            "spot_neuron_limit": 0,
        }
    )
    with pytest.raises(PropsValidationError) as err:
        InferentiaSettings.from_context(raw)  # as `cdk synth -c inferentia='{...}'` passes it
    problems = err.value.problems
    expected = [
        "unknown setting 'replicas'",
        "setting 'min_replicas' must be int, got \"1\"",
        "setting 'kubernetes_version' must be str, got 1.34",
        "setting 'serving_mode' must be one of knative, raw",
        "cluster_name 'my cluster' must match",
        "model_s3_prefix 's3://bucket/models/x/' is a URI",
        "NodePool 'inf2-spot': neuron_limit must be at least 1, got 0",
    ]
    assert len(problems) == len(expected) and all(any(e in p for p in problems) for e in expected), problems
    assert str(err.value).startswith("invalid cdk.json context 'inferentia' (7 problem(s))")
    # the valid side: the settings give the cluster exactly these props, which pass its checks
    good = InferentiaSettings.from_context({"serving_mode": "raw", "min_replicas": 1})
    assert good.cluster_props()["serving_mode"] is ServingMode.RAW_DEPLOYMENT and good.problems() == []


def test_stack_outputs_explain_the_endpoint(template: dict[str, Any]) -> None:
    # knative/operator transformers.go:32 installs Kourier in the KnativeServing namespace (not kourier-system); KServe
    # keeps the predictor ksvc host with disableIstioVirtualHost; Knative's default domain is svc.cluster.local
    # (route/config/domain.go:40).
    outputs = template["Outputs"]
    endpoint = outputs["InferenceEndpoint"]["Value"]
    assert endpoint.startswith("kubectl -n knative-serving port-forward svc/kourier-internal 8080:80 & ")
    assert "-H 'Host: tinyllama-1-1b-chat-predictor.llm.svc.cluster.local'" in endpoint
    assert '"model": "tinyllama-1-1b-chat"' in endpoint
    assert {"ClusterName", "ModelBucketName", "StorageUri", "KubeconfigCommand"} <= set(outputs)
    raw = EksInferentiaCluster(
        cdk.Stack(cdk.App(), "S"), "C", serving_mode=ServingMode.RAW_DEPLOYMENT, model=VllmNeuronModel(min_replicas=1)
    )
    assert raw.inference_url_hint.startswith(
        "kubectl -n llm port-forward svc/tinyllama-1-1b-chat-predictor 8080:80 & curl localhost:8080"
    )


def test_builtin_kinds_use_the_kubernetes_schemas(template: dict[str, Any]) -> None:
    sa = _doc(template, "ServiceAccount")
    sa["automountServiceAccountToken"] = "yes"  # must be a boolean
    assert schema_errors(sa) and "automountServiceAccountToken" in schema_errors(sa)[0]
    ns = _doc(template, "Namespace")
    ns["metadata"]["labelz"] = {}  # unknown field, rejected in strict mode
    assert schema_errors(ns)
