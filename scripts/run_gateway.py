"""`make gateway`: run the gateway's HTTP app locally with ChatStack's default allowlist.

Listens on 127.0.0.1:$PORT (default 8080). AWS access uses the standard SDK configuration
(AWS_REGION/AWS_PROFILE/credentials; AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME and AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME for stand-ins).
Settings come from cdk.json's "chat" context, exactly as ChatStack reads them, unless
GATEWAY_CONFIG is already set: then that document is used as is (e.g. to try SageMaker or
retrieval aliases, see lambda/gateway/config.py for its format).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def chat_stack_config() -> str:
    """ChatStack's GATEWAY_CONFIG document, from cdk.json's "chat" context."""
    from cdk_llm_serving.bedrock_gateway.aliases import GatewayLimits, runtime_config, runtime_config_json
    from stacks.chat_stack import ChatSettings

    settings = ChatSettings.from_context(json.loads((REPO / "cdk.json").read_text())["context"].get("chat"))
    config = runtime_config(
        models=settings.models,
        limits=GatewayLimits(max_messages=settings.max_messages, max_total_chars=settings.max_total_chars),
        log_content=settings.log_content,
        metrics_namespace="CdkLlmServing/Gateway",
        service_name="local",
    )
    return runtime_config_json(config)


def main() -> None:
    env = {**os.environ, "HOST": "127.0.0.1"}
    if not env.get("GATEWAY_CONFIG"):
        env["GATEWAY_CONFIG"] = chat_stack_config()
    env.setdefault("PORT", "8080")
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
    if not region:
        sys.exit("set AWS_REGION (or AWS_DEFAULT_REGION) to the Region of the models, e.g. AWS_REGION=us-east-1")
    env["AWS_DEFAULT_REGION"] = region  # botocore reads AWS_DEFAULT_REGION
    server = REPO / "lambda" / "gateway" / "server.py"
    try:
        aliases = ", ".join(m["alias"] for m in json.loads(env["GATEWAY_CONFIG"])["models"])
    except (ValueError, KeyError, TypeError):
        aliases = "(GATEWAY_CONFIG is invalid; the gateway will say why)"
    print(f"gateway on http://127.0.0.1:{env['PORT']}/v1 with aliases: {aliases}", flush=True)
    os.execve(sys.executable, [sys.executable, "-u", str(server)], env)


if __name__ == "__main__":
    main()
