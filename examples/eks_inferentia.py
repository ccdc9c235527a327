"""vLLM on AWS Inferentia2 through KServe on EKS, with Karpenter launching inf2 nodes (``EksInferentiaCluster``).

Needs the ``eks`` extra: ``pip install "cdk-llm-serving[eks]"`` (``aws-cdk.lambda-layer-kubectl-v34``, the kubectl layer
of Kubernetes 1.34; ``make setup`` installs it in this repository's venv).

Deploys: a new 2-AZ VPC (one NAT gateway, encrypted flow logs), an EKS 1.34 cluster (private API endpoint, secrets
encrypted with KMS, every control-plane log type) with 2 x m7i.xlarge system nodes, Karpenter with an inf2 spot
NodePool and an on-demand fallback, the Neuron device plugin, cert-manager, Knative Serving and KServe, a model bucket,
and one InferenceService serving TinyLlama-1.1B-Chat with vLLM on Neuron that Knative scales to zero.

Idle cost (us-east-1): about $410/month (the README's InferentiaStack line: EKS control plane $73, system nodes
$294, their volumes $3, NAT gateway and its address $37, 3 KMS keys $3) + log ingestion; no inf2 node while the
model is scaled to zero. Worst case at the NodePool limits: the ``Inf2CostCeilingUsdPerMonth`` output.

Deploy from the repository root (after ``make setup``; needs AWS credentials, a bootstrapped account and inf2 vCPU
quota)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/eks_inferentia.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.) Then upload the Hugging Face weights under the ``StorageUri``
output before the first request, and reach the model from inside the VPC (the API endpoint is private).
"""

from typing import Any

import aws_cdk as cdk
from constructs import Construct

# [start:cluster]
from cdk_llm_serving import EksInferentiaCluster, ServingMode, VllmNeuronModel

# [end:cluster]


class EksInferentiaExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # [start:cluster]
        cluster = EksInferentiaCluster(
            self,
            "Inferentia",
            cluster_name="llm-inferentia",  # literal: Karpenter's IAM conditions contain it
            kubernetes_version="1.34",  # needs aws-cdk.lambda-layer-kubectl-v34 (the [eks] extra)
            serving_mode=ServingMode.KNATIVE,  # scale to zero; ServingMode.RAW_DEPLOYMENT keeps 1+ replicas
            model=VllmNeuronModel(
                name="tinyllama-1-1b-chat",
                model_s3_prefix="models/tinyllama-1.1b-chat-v1.0/",  # upload the Hugging Face snapshot here
                family="llama-2",
                parameters_billions=1.1,  # checked against vllm-neuron and device memory
                tensor_parallel_size=2,
                max_model_len=2048,
                min_replicas=0,
                max_replicas=2,
            ),
        )
        ceiling = cluster.cost_ceiling(region="us-east-1")  # inf2 on-demand worst case at the NodePool limits
        # [end:cluster]
        cdk.CfnOutput(self, "ClusterName", value=cluster.cluster.cluster_name)
        cdk.CfnOutput(self, "StorageUri", value=cluster.storage_uri)
        cdk.CfnOutput(self, "InferenceEndpoint", value=cluster.inference_url_hint)
        cdk.CfnOutput(self, "Inf2CostCeilingUsdPerMonth", value=f"{ceiling.usd_per_month:.2f}")


def build(app: cdk.App) -> cdk.Stack:
    return EksInferentiaExample(app, "EksInferentiaExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
