"""One OpenAI-compatible API over several backends deployed elsewhere: a Bedrock model, a SageMaker endpoint, one
LoRA adapter (an inference component) and a shared knowledge base (``BedrockGatewayApi``, Cognito auth).

Deploys: an API Gateway REST API (REGIONAL, stage throttling, request validation, access logs, X-Ray) with a WAF web
ACL and Cognito authorization (a new user pool: no self sign-up, TOTP MFA required), and the gateway Lambda function
(response streaming) allowed to call exactly these targets: the ``us.`` inference profiles of Claude Haiku 4.5 and
Amazon Nova Lite, the SageMaker endpoint ``my-llama-endpoint``, the inference component ``legal-lora`` of
``my-lora-endpoint``, and ``Retrieve`` on the knowledge base another stack exports as ``SharedDocumentIndexId``; its
alarms and KMS-encrypted logs. Nothing of the targets is created here: deploy them first (the endpoints, e.g. with
``examples/sagemaker_real_time.py`` and ``examples/lora_fleet.py``, and a stack that exports the knowledge base ID).

Claude is sold through AWS Marketplace: the function's role may subscribe the account on the first call
(``marketplace_subscription``, default true); Anthropic also asks for its use-case form once per account. Deploy to a
US Region (``us.`` profiles).

Idle cost (us-east-1): about $10.50/month (WAF web ACL $5 + 4 rules $4, the log key $1, 5 alarms $0.50; the user pool
is free up to its monthly active users tier); requests, Lambda time, tokens and the targets are billed on their own.

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/gateway_routing.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.) Then create a user in the pool and call the API with
``.venv/bin/python scripts/call_gateway.py --stack GatewayRoutingExample --model docs "Hi"`` (it signs in to Cognito).
"""

from typing import Any

import aws_cdk as cdk
from constructs import Construct

# [start:routing]
from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    DocumentIndex,
    KnowledgeBaseRetrieval,
    SageMakerLlmEndpoint,
    SageMakerModelAlias,
)

# [end:routing]


class GatewayRoutingExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # [start:routing]
        # [start:shared-index]
        shared = DocumentIndex.from_knowledge_base_attributes(
            self,
            "SharedIndex",
            knowledge_base_id=cdk.Fn.import_value("SharedDocumentIndexId"),
        )
        retrieval = KnowledgeBaseRetrieval(
            knowledge_base_id=shared.knowledge_base_id, knowledge_base_arn=shared.knowledge_base_arn
        )
        # [end:shared-index]
        legal = SageMakerLlmEndpoint.from_endpoint_name(
            self, "Legal", "my-lora-endpoint", inference_component_name="legal-lora"
        )  # or, in the fleet's own stack: fleet.adapter("legal")
        gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[
                BedrockModelAlias(alias="fast", model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0"),
                SageMakerModelAlias(alias="llama", endpoint_name="my-llama-endpoint"),  # endpoint imported by name
                SageMakerModelAlias.for_endpoint(alias="legal", endpoint=legal),  # anything with endpoint_name/_arn
                BedrockModelAlias(alias="docs", model_id="us.amazon.nova-lite-v1:0", retrieval=retrieval),  # RAG
            ],
        )  # auth: GatewayAuth.cognito() by default (a new user pool)
        cdk.CfnOutput(self, "OpenAIBaseUrl", value=gateway.openai_base_url)
        # [end:routing]
        cdk.CfnOutput(self, "AuthMode", value=gateway.auth_mode.value)
        if gateway.user_pool is not None and gateway.user_pool_client is not None:  # the pool it created
            cdk.CfnOutput(self, "UserPoolId", value=gateway.user_pool.user_pool_id)  # admin-create-user here
            cdk.CfnOutput(self, "UserPoolClientId", value=gateway.user_pool_client.user_pool_client_id)


def build(app: cdk.App) -> cdk.Stack:
    return GatewayRoutingExample(app, "GatewayRoutingExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
