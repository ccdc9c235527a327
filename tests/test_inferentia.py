"""InferentiaStack / EksInferentiaCluster: intent of the template, manifests against pinned CRD schemas,
semantic checks (each with a negative test), version matrix and cost ceiling.

The template comes from the session synthesis (tests/harness.py); nothing here synthesizes the
~60 MB kubectl layer again. Negative construct tests only build the construct tree (no synth).
"""

from __future__ import annotations

import copy
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

from cdk_llm_serving import EksInferentiaCluster, Inf2NodePool, PropsValidationError, ServingMode, VllmNeuronModel
from cdk_llm_serving.eks_inferentia import INTERRUPTION_EVENTS, semantic_problems, version_matrix
from cdk_llm_serving.eks_inferentia.data import inf2_prices, karpenter_minimums, kserve_modes, version_tuple
from cdk_llm_serving.eks_inferentia.manifests import DEFAULT_INF2_NODE_POOLS
from harness import Synthesis, cfn_text
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
    out = {k: _k8s_to_jsonschema(v, strict=strict) for k, v in node.items()
           if k not in ("x-kubernetes-validations", "x-kubernetes-int-or-string")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if strict and "properties" in node and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
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
    ("serving.kserve.io/v1beta1", "InferenceService"): f"kserve-{VERSIONS.kserve}/serving.kserve.io_inferenceservices.yaml",
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
        return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in crd_validator(CRDS[key]).iter_errors(doc)]
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
    knative_serving = next(lid for lid, r in _resources(template, "Custom::AWSCDK-EKS-KubernetesResource").items()
                           if "KnativeServing" in _detokenize(r["Properties"]["Manifest"]))
    assert c["knative-operator"] in _depends(template, knative_serving)
    assert knative_serving in _depends(template, c["kserve-resources"])
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
    assert {(a["Namespace"], a["ServiceAccount"]) for a in assoc} == {("kube-system", "karpenter"), ("llm", "llm-model-reader")}


def test_neuron_chart_monitor_only_and_no_builtin_plugin(template: dict[str, Any]) -> None:
    values = json.loads(_detokenize(_charts(template)["neuron-helm-chart"][1]["Properties"]["Values"]))
    assert values["devicePlugin"]["enabled"] is True
    assert values["npd"] == {"enabled": True, "nodeRecovery": {"enabled": False}}
    assert values["scheduler"]["enabled"] is False  # one device per replica by default
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
        "AWS Health Event", "EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
    }


def _karpenter_policy(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    policy = next(r for r in _resources(template, "AWS::IAM::ManagedPolicy").values()
                  if "Karpenter" in r["Properties"].get("Description", ""))
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_karpenter_controller_statements(template: dict[str, Any]) -> None:
    st = _karpenter_policy(template)
    assert st["AllowPassingInstanceRole"]["Action"] == "iam:PassRole"
    assert st["AllowPassingInstanceRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}
    assert st["AllowScopedDeletion"]["Condition"]["StringEquals"] == {"aws:ResourceTag/kubernetes.io/cluster/llm-inferentia": "owned"}
    assert st["AllowScopedEC2InstanceActionsWithTags"]["Condition"]["StringEquals"]["aws:RequestTag/eks:eks-cluster-name"] == "llm-inferentia"
    assert set(st["AllowInterruptionQueueActions"]["Action"]) == {"sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"}
    assert st["AllowAPIServerEndpointDiscovery"]["Action"] == "eks:DescribeCluster"
    # "*" only where AWS has no resource-level permissions
    star = {sid for sid, s in st.items() if s["Resource"] == "*"}
    assert star == {"AllowRegionalReadActions", "AllowPricingReadActions", "AllowUnscopedInstanceProfileListAction"}
    assert all(a.startswith("ec2:Describe") for a in st["AllowRegionalReadActions"]["Action"])
    assert not any("FullAccess" in json.dumps(r) for r in template["Resources"].values())


def test_node_access_entry_and_model_read_scope(template: dict[str, Any]) -> None:
    types = {r["Properties"]["Type"] for r in _resources(template, "AWS::EKS::AccessEntry").values() if "Type" in r["Properties"]}
    assert "EC2_LINUX" in types
    model = next(r for r in _resources(template, "AWS::IAM::ManagedPolicy").values() if "model" in r["Properties"].get("Description", ""))
    sids = {s["Sid"]: s for s in model["Properties"]["PolicyDocument"]["Statement"]}
    assert sids["ReadModelWeights"]["Action"] == "s3:GetObject"
    assert sids["ListModelWeights"]["Condition"] == {"StringLike": {"s3:prefix": ["models/llama-3.2-1b-instruct/*"]}}


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
    assert kinds == sorted(["EC2NodeClass", "EC2NodeClass", "NodePool", "NodePool", "NodePool", "InferenceService",
                            "Namespace", "Namespace", "KnativeServing", "ServiceAccount", "ServiceAccount"])
    problems = {f"{d['kind']}/{d['metadata']['name']}": schema_errors(d) for d in docs}
    assert not any(problems.values()), problems


def test_generated_manifests_pass_the_semantic_checks(template: dict[str, Any]) -> None:
    assert semantic_problems(generated_manifests(template), knative_mode_names=["Knative"]) == []


def _doc(template: dict[str, Any], kind: str, name: str | None = None) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in generated_manifests(template) if d["kind"] == kind and name in (None, d["metadata"]["name"])))


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
    assert env["STORAGE_URI"].startswith("s3://") and env["STORAGE_URI"].endswith("/models/llama-3.2-1b-instruct/")
    assert env["HF_HUB_OFFLINE"] == "1" and env["NEURON_COMPILED_ARTIFACTS"] == "/cache/neuron"
    assert "--tensor-parallel-size=2" in c["args"] and "--max-model-len=2048" in c["args"]
    assert c["resources"]["requests"]["aws.amazon.com/neuron"] == "1"
    assert pred["serviceAccountName"] == "llm-model-reader" and pred["minReplicas"] == 0
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert pred["scaleMetric"] == "concurrency"


# ---------------------------------------------------------------- semantic checks, each failing


def _semantic(template: dict[str, Any], mutate: Any) -> str:
    docs = generated_manifests(template)
    mutate(docs)
    return "\n".join(semantic_problems(docs, knative_mode_names=["Knative"]))


def _find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"]))


def test_semantic_nodeclass_reference(template: dict[str, Any]) -> None:
    msg = _semantic(template, lambda d: _find(d, "NodePool", "general")["spec"]["template"]["spec"]["nodeClassRef"].update(name="gpu"))
    assert "NodePool 'general' references EC2NodeClass 'gpu', which is not defined (defined: default, neuron)" in msg


def test_semantic_tolerations(template: dict[str, Any]) -> None:
    msg = _semantic(template, lambda d: _find(d, "InferenceService")["spec"]["predictor"].update(tolerations=[]))
    assert "does not tolerate the aws.amazon.com/neuron taint" in msg


def _model_stack(**kwargs: Any) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    EksInferentiaCluster(stack, "C", **kwargs)


def test_construct_neuron_devices_vs_instance_sizes() -> None:
    with pytest.raises(PropsValidationError) as err:
        _model_stack(model=VllmNeuronModel(neuron_devices=2, tensor_parallel_size=4, max_replicas=1))
    assert "requests 2 Inferentia2 device(s) but NodePool 'inf2-spot' allows only inf2.xlarge (1), inf2.8xlarge (1)" in str(err.value)


def test_construct_cpu_memory_vs_allocatable_and_tensor_parallel() -> None:
    pools = tuple(Inf2NodePool(name=p.name, capacity_type=p.capacity_type, instance_types=("inf2.xlarge",), neuron_limit=p.neuron_limit,
                               weight=p.weight) for p in DEFAULT_INF2_NODE_POOLS)
    with pytest.raises(PropsValidationError) as err:
        _model_stack(inf2_node_pools=pools, model=VllmNeuronModel(cpu="8", memory="24Gi", tensor_parallel_size=4))
    msg = str(err.value)
    assert "requests cpu 8 and memory 24Gi, more than any size in NodePool 'inf2-spot' can allocate: inf2.xlarge (3.4 cpu, 13Gi)" in msg
    assert "tensor parallel size 4 exceeds the 2 NeuronCores of 1 Inferentia2 device(s)" in msg


def test_construct_limits_vs_max_replicas() -> None:
    with pytest.raises(PropsValidationError) as err:
        _model_stack(model=VllmNeuronModel(max_replicas=10))
    assert "maxReplicas 10 x 1 device(s) = 10 aws.amazon.com/neuron, but the inf2 NodePool limits add up to 6" in str(err.value)


def test_construct_scale_to_zero_only_in_knative_mode() -> None:
    with pytest.raises(PropsValidationError) as err:
        _model_stack(serving_mode=ServingMode.RAW_DEPLOYMENT, model=VllmNeuronModel(min_replicas=0))
    assert "minReplicas 0 (scale to zero) needs Knative mode, but the deployment mode is 'Standard'" in str(err.value)


def test_construct_props_problems_reported_together() -> None:
    bad_pools = (Inf2NodePool(name="od", capacity_type="on-demand", instance_types=("inf2.xlarge",), neuron_limit=4, weight=100),
                 Inf2NodePool(name="spot", capacity_type="spot", instance_types=("g5.xlarge",), neuron_limit=0, weight=10))
    with pytest.raises(PropsValidationError) as err:
        _model_stack(kubernetes_version="1.29", ami_alias="al2023@latest", inf2_node_pools=bad_pools)
    msg = str(err.value)
    for part in ("kubernetes_version '1.29' is not in the version matrix; supported: 1.33, 1.34",
                 "ami_alias must be pinned", "NodePool 'spot': neuron_limit must be at least 1",
                 "NodePool 'spot': instance_types must be inf2 sizes", "spot NodePools must have higher weights than on-demand ones"):
        assert part in msg


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
    c = EksInferentiaCluster(cdk.Stack(app, "S"), "C", serving_mode=ServingMode.RAW_DEPLOYMENT, model=VllmNeuronModel(min_replicas=1))
    isvc = c.inference_service_manifest
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "hpa"
    assert isvc["spec"]["predictor"]["scaleMetric"] == "cpu"
    assert c.knative_operator_chart is None and [ch for ch in c.helm_charts if ch is None] == []
    resolved = json.loads(re.sub(r"\$\{Token\[[^\]]*\]\}", PLACEHOLDER, json.dumps(isvc)))
    assert schema_errors(resolved) == []


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
    assert ceiling.per_pool_usd_per_hour == {"inf2-spot": 4 * prices["inf2.8xlarge"], "inf2-on-demand": 2 * prices["inf2.8xlarge"]}
    assert math.isclose(ceiling.usd_per_month, round(6 * prices["inf2.8xlarge"] * 730, 2))
    assert template["Outputs"]["Inf2CostCeilingUsdPerMonth"]["Value"] == f"{ceiling.usd_per_month:.2f}"
    with pytest.raises(KeyError, match="known regions: us-east-1"):
        stack.inferentia.cost_ceiling(region="eu-west-9")


def test_settings_from_context() -> None:
    s = InferentiaSettings.from_context({"serving_mode": "raw", "min_replicas": 1, "neuron_devices": 6, "tensor_parallel_size": 12})
    assert s.model.neuron_devices == 6 and s.node_pools[0].instance_types == ("inf2.24xlarge", "inf2.48xlarge")
    with pytest.raises(PropsValidationError) as err:
        InferentiaSettings.from_context({"serving_mode": "serverless", "replicas": 3})
    assert "unknown setting 'replicas'" in str(err.value)
    with pytest.raises(PropsValidationError, match="setting 'serving_mode' must be one of knative, raw"):
        InferentiaSettings.from_context({"serving_mode": "serverless"})


def test_stack_outputs_explain_the_endpoint(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert "port-forward svc/kourier" in outputs["InferenceEndpoint"]["Value"]
    assert {"ClusterName", "ModelBucketName", "StorageUri", "KubeconfigCommand"} <= set(outputs)


def test_builtin_kinds_use_the_kubernetes_schemas(template: dict[str, Any]) -> None:
    sa = _doc(template, "ServiceAccount")
    sa["automountServiceAccountToken"] = "yes"  # must be a boolean
    assert schema_errors(sa) and "automountServiceAccountToken" in schema_errors(sa)[0]
    ns = _doc(template, "Namespace")
    ns["metadata"]["labelz"] = {}  # unknown field, rejected in strict mode
    assert schema_errors(ns)
