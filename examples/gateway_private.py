"""A private (VPC-only) chat API over a SageMaker-hosted model that answers from your documents (RAG).

Deploys: a VPC with two isolated subnets (no NAT, no internet gateway; S3 gateway endpoint; encrypted flow logs), an
open model on a SageMaker real-time endpoint in that VPC (network-isolated, 1-2 instances), a ``DocumentIndex``
(Bedrock Knowledge Base over an S3 document bucket, vectors in S3 Vectors, ingestion on upload), and a PRIVATE
``BedrockGatewayApi`` with IAM auth reachable only through its ``execute-api`` VPC endpoint; the alias ``rag``
retrieves passages from the knowledge base, then streams the model's answer with citations. The gateway function
reaches SageMaker and the knowledge base through interface endpoints (``sagemaker.runtime``, ``bedrock-agent-runtime``).

Idle cost (us-east-1): about $1,163/month: 1 x ml.g5.2xlarge (autoscaling minimum 1) x $1.515/h x 730 h = $1,105.95,
3 interface endpoints x 2 AZs x $0.01/h x 730 h = $43.80, WAF $9, 3 KMS keys $3, 10 alarms on 11 metrics $1.10; the
knowledge base and S3 Vectors cost nothing until documents are indexed. (The README's RagStack is this example plus a dashboard, data
capture and a model registry.)

Deploy from the repository root (after ``make setup``; needs AWS credentials, a bootstrapped account, and a Region with
SageMaker, Bedrock Knowledge Bases and S3 Vectors), once the weights are in ``s3://<your bucket>/qwen2.5-7b-instruct/``::

    npx --no-install cdk deploy --app ".venv/bin/python examples/gateway_private.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.) Call the API from inside the VPC (``scripts/call_gateway.py --stack
GatewayPrivateExample`` on an instance there signs with SigV4).
"""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

# [start:gateway]
from cdk_llm_serving import (
    AutoScalingOptions,
    BedrockGatewayApi,
    DeploymentOptions,
    DocumentIndex,
    GatewayAuth,
    GatewayEndpoint,
    KnowledgeBaseRetrieval,
    LlmContainer,
    ModelSource,
    SageMakerLlmEndpoint,
    SageMakerModelAlias,
    TrafficShift,
    TrafficShiftType,
)

# [end:gateway]


class GatewayPrivateExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,  # no internet path at all
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        flow_log_key = kms.Key(self, "FlowLogKey", enable_key_rotation=True)
        flow_log_key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogGroup", encryption_key=flow_log_key, retention=logs.RetentionDays.ONE_YEAR)
            ),
        )
        weights_bucket = s3.Bucket.from_bucket_name(self, "Weights", "my-llm-weights")  # yours, in this account
        # [start:gateway]
        llm = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.s3_prefix(weights_bucket, "qwen2.5-7b-instruct/"),  # via the S3 gateway endpoint
            container=LlmContainer.lmi(tensor_parallel_degree=1, max_model_len=8192),
            vpc=vpc,
            autoscaling=AutoScalingOptions(min_capacity=1, max_capacity=2, target_concurrent_requests=8),
            deployment=DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.ALL_AT_ONCE)),
        )  # 1 instance: no canary
        index = DocumentIndex(self, "Documents", document_prefix="documents/")
        gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[
                SageMakerModelAlias.for_endpoint(
                    alias="rag",
                    endpoint=llm,
                    retrieval=KnowledgeBaseRetrieval(
                        knowledge_base_id=index.knowledge_base_id, knowledge_base_arn=index.knowledge_base_arn
                    ),
                )
            ],
            auth=GatewayAuth.iam(),
            endpoint=GatewayEndpoint.private(vpc=vpc),
        )  # + execute-api, sagemaker.runtime, bedrock-agent-runtime endpoints
        cdk.CfnOutput(self, "OpenAIBaseUrl", value=gateway.openai_base_url)  # resolves inside the VPC only
        # [end:gateway]
        cdk.CfnOutput(self, "AuthMode", value=gateway.auth_mode.value)
        cdk.CfnOutput(self, "DocumentBucket", value=index.document_bucket.bucket_name)


def build(app: cdk.App) -> cdk.Stack:
    return GatewayPrivateExample(app, "GatewayPrivateExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
