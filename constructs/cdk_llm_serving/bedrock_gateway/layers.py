"""AWS-published Lambda layers the gateway uses. Versions are pinned here, and only here.

Both layers are published by AWS in every commercial Region under fixed accounts, one
layer per CPU architecture; the ARN is built per Region (a CloudFormation token, so
templates stay environment-agnostic) and per architecture.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

#: AWS Lambda Web Adapter (github.com/awslabs/aws-lambda-web-adapter), publisher account.
WEB_ADAPTER_ACCOUNT = "753240598075"
#: Pinned Lambda Web Adapter layer version (same number for both architectures).
WEB_ADAPTER_LAYER_VERSION = 25

#: Powertools for AWS Lambda (Python) v3, publisher account.
POWERTOOLS_ACCOUNT = "017000801446"
#: Pinned Powertools layer version (38 carries a Powertools v3 release newer than 3.31; the gateway
#: uses only Logger and EphemeralMetrics, stable across v3; tests run against 3.37.0 from PyPI).
POWERTOOLS_LAYER_VERSION = 38

#: Lambda runtime of the gateway function; the Powertools layer is built per Python version.
GATEWAY_RUNTIME = lambda_.Runtime.PYTHON_3_14


def _arch_suffix(architecture: lambda_.Architecture, *, x86: str, arm: str) -> str:
    return arm if architecture.name == lambda_.Architecture.ARM_64.name else x86


def web_adapter_layer_arn(architecture: lambda_.Architecture, *, version: int = WEB_ADAPTER_LAYER_VERSION) -> str:
    """ARN of the Lambda Web Adapter layer in the deploying stack's Region."""
    name = _arch_suffix(architecture, x86="LambdaAdapterLayerX86", arm="LambdaAdapterLayerArm64")
    return f"arn:aws:lambda:{cdk.Aws.REGION}:{WEB_ADAPTER_ACCOUNT}:layer:{name}:{version}"


def powertools_layer_arn(
    architecture: lambda_.Architecture,
    *,
    runtime: lambda_.Runtime = GATEWAY_RUNTIME,
    version: int = POWERTOOLS_LAYER_VERSION,
) -> str:
    """ARN of the Powertools for AWS Lambda (Python) v3 layer in the deploying stack's Region."""
    python = runtime.name.replace(".", "")  # python3.14 -> python314
    arch = _arch_suffix(architecture, x86="x86_64", arm="arm64")
    return f"arn:aws:lambda:{cdk.Aws.REGION}:{POWERTOOLS_ACCOUNT}:layer:AWSLambdaPowertoolsPythonV3-{python}-{arch}:{version}"
