"""An OpenAI-compatible chat API over one Bedrock model, signed with SigV4 (``BedrockGatewayApi``, IAM auth).

Deploys: an API Gateway REST API (REGIONAL, stage throttling, request validation, access logs, X-Ray) with a WAF web
ACL, IAM (SigV4) authorization on ``/v1/chat/completions`` and ``/v1/models``, the gateway Lambda function (response
streaming) allowed to call exactly one Bedrock model, its alarms and KMS-encrypted logs, and a role your application
assumes to call the API.

The alias uses the ``us.`` cross-Region inference profile of Amazon Nova Lite, so deploy to a US Region (Nova is not
sold through AWS Marketplace: no subscription step). The stack is Region-agnostic, so synth cannot check the profile's
geography; give it ``env=cdk.Environment(region="us-east-1")`` and synth rejects a profile of another geography
(rule ``GATEWAY.BEDROCK_PROFILE_GEOGRAPHY``).

Idle cost (us-east-1): about $10.50/month (WAF web ACL $5 + 4 rules $4, the log key $1, 5 alarms $0.50); requests,
Lambda time and Bedrock tokens are billed per use.

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/gateway_bedrock.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.) Then ``.venv/bin/python scripts/call_gateway.py --stack
GatewayBedrockExample "Hi"`` signs a request with your AWS credentials.
"""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

# [start:gateway]
from cdk_llm_serving import BedrockGatewayApi, BedrockModelAlias, GatewayAuth

# [end:gateway]


class GatewayBedrockExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        caller = iam.Role(self, "Caller", assumed_by=iam.AccountRootPrincipal())  # your application's role
        # [start:gateway]
        gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[BedrockModelAlias(alias="chat", model_id="us.amazon.nova-lite-v1:0", max_tokens_cap=4096)],
            auth=GatewayAuth.iam(),  # SigV4; the default is GatewayAuth.cognito() (a new pool, or pass yours)
        )
        gateway.grant_invoke(caller)  # execute-api:Invoke on the model routes of this stage, nothing else
        cdk.CfnOutput(self, "OpenAIBaseUrl", value=gateway.openai_base_url)  # base_url for OpenAI SDKs
        # [end:gateway]
        cdk.CfnOutput(self, "AuthMode", value=gateway.auth_mode.value)


def build(app: cdk.App) -> cdk.Stack:
    return GatewayBedrockExample(app, "GatewayBedrockExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
