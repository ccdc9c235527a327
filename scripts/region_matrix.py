#!/usr/bin/env python3
"""Which AWS Regions each stack's building blocks exist in, from data on this machine (no AWS calls).

Prints the Markdown table the README's "Supported Regions" section embeds (between its
``region-matrix`` markers; ``tests/test_readme_reference.py`` checks the copy). Sources:

* AWS Deep Learning Container registry accounts: ``cdk_llm_serving``'s ``dlc_accounts()``
  (aws-cdk-lib region facts + ``sagemaker_endpoint/data/containers.json``).
* Instance types offered per Region: cfn-lint's ``aws_ec2_instance`` and ``aws_sagemaker_hosting``
  instance-type lists, which cfn-lint generates from the AWS Price List API
  (``update_specs_from_pricing``); the pinned cfn-lint version is printed with the table.
* Resource types per Region: cfn-lint's per-Region CloudFormation registry schemas
  (``data/schemas/providers/<region>.json``). The isolated partitions (``us-iso*``, ``eu-isoe``,
  ``eusc``) are left out: this project has never looked at them.
* Lambda Web Adapter layer version 25 (the version ``bedrock_gateway/layers.py`` pins): the Regions
  of ``.github/workflows/prod.json`` at tag v0.9.1 of awslabs/aws-lambda-web-adapter, the release
  that published layer 25 (2025-04-23), split by its ``arm64_supported`` flag (:data:`LWA_V25`).
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "constructs"))

#: awslabs/aws-lambda-web-adapter v0.9.1 (layer version 25), .github/workflows/prod.json: Regions with the
#: arm64 layer (arm64_supported: true) and the ones with the x86_64 layer only. Regions added to that file
#: later (2026-02-10: ap-east-2, ap-southeast-5/6/7, ca-west-1, il-central-1, mx-central-1) got layer
#: versions after 25.
LWA_V25 = {
    "arm64": (
        "af-south-1 ap-east-1 ap-northeast-1 ap-northeast-2 ap-northeast-3 ap-south-1 ap-southeast-1 "
        "ap-southeast-2 ap-southeast-3 ca-central-1 eu-central-1 eu-north-1 eu-south-1 eu-west-1 eu-west-2 "
        "eu-west-3 me-south-1 sa-east-1 us-east-1 us-east-2 us-west-1 us-west-2"
    ).split(),
    "x86_64_only": "ap-south-2 ap-southeast-4 eu-central-2 eu-south-2 me-central-1".split(),
}
#: Source Regions of the us. profile of Claude Haiku 4.5, ChatStack's and LoraStack's chat-fast
#: (bedrock_gateway/data/bedrock_models.json, from its model card). The catalogue lists no source
#: Regions for ChatStack's other two defaults (Sonnet 4.5, Nova Lite): this is an upper bound.
US_PROFILE_SOURCES = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1")

_SKIP = ("us-iso", "eu-isoe", "eusc-")


def _cfnlint_data() -> Path:
    import cfnlint

    return Path(cfnlint.__file__).parent / "data" / "schemas"


def offered(kind: str, instance_type: str) -> set[str]:
    """Regions whose price list has ``instance_type`` (kind: ``aws_ec2_instance`` or ``aws_sagemaker_hosting``)."""
    table = json.loads((_cfnlint_data() / "extensions" / kind / "instancetype_enum.json").read_text())
    return {
        r
        for r, v in table.items()
        if isinstance(v, dict) and instance_type in v.get("enum", []) and not r.startswith(_SKIP)
    }


def registered(resource_type: str) -> set[str]:
    """Regions whose CloudFormation registry has ``resource_type``."""
    out = set()
    for path in (_cfnlint_data() / "providers").glob("*.json"):
        region = path.stem
        if region != "sam" and not region.startswith(_SKIP) and resource_type in json.loads(path.read_text()):
            out.add(region)
    return out


def matrix() -> list[tuple[str, set[str], str]]:
    """(what, Regions, why) rows."""
    from cdk_llm_serving.sagemaker_endpoint.containers import dlc_accounts

    dlc = set(dlc_accounts())
    lwa_arm = set(LWA_V25["arm64"])
    g5_2 = offered("aws_sagemaker_hosting", "ml.g5.2xlarge")
    g5_12 = offered("aws_sagemaker_hosting", "ml.g5.12xlarge")
    components = registered("AWS::SageMaker::InferenceComponent")
    index = registered("AWS::Bedrock::KnowledgeBase") & registered("AWS::S3Vectors::VectorBucket")
    inf2 = offered("aws_ec2_instance", "inf2.xlarge") | offered("aws_ec2_instance", "inf2.8xlarge")
    system = offered("aws_ec2_instance", "m7i.xlarge")
    return [
        ("DLC registry (every SageMaker image)", dlc, "dlc_accounts(); checked at synth"),
        (
            "Lambda Web Adapter layer 25, arm64 (the gateway's default)",
            lwa_arm,
            "awslabs/aws-lambda-web-adapter v0.9.1",
        ),
        ("`ml.g5.2xlarge` (SageMaker hosting)", g5_2, "price list"),
        ("`ml.g5.12xlarge` (SageMaker hosting)", g5_12, "price list"),
        ("`AWS::SageMaker::InferenceComponent`", components, "CloudFormation registry"),
        ("`AWS::Bedrock::KnowledgeBase` and `AWS::S3Vectors::VectorBucket`", index, "CloudFormation registry"),
        ("`inf2.xlarge` or `inf2.8xlarge` (EC2)", inf2, "price list"),
        (
            "**ChatStack** (defaults)",
            lwa_arm & set(US_PROFILE_SOURCES),
            "gateway layer ∩ Claude Haiku 4.5 `us.` sources (an upper bound: Sonnet 4.5 and Nova Lite sources not catalogued)",
        ),
        (
            "**RagStack** (defaults)",
            lwa_arm & dlc & g5_2 & index,
            "gateway layer ∩ DLC ∩ ml.g5.2xlarge ∩ knowledge base + S3 Vectors",
        ),
        (
            "**LoraStack** (defaults)",
            lwa_arm & dlc & g5_12 & components & set(US_PROFILE_SOURCES),
            "gateway layer ∩ DLC ∩ ml.g5.12xlarge ∩ inference components ∩ Claude Haiku 4.5 `us.` sources",
        ),
        ("**InferentiaStack** (defaults)", inf2 & system, "inf2 ∩ `m7i.xlarge` (system nodes)"),
    ]


def markdown() -> str:
    version = metadata.version("cfn-lint")
    lines = ["| building block | Regions | source |", "|---|---|---|"]
    for what, regions, why in matrix():
        lines.append(f"| {what} | {len(regions)}: {', '.join(sorted(regions))} | {why} |")
    lines.append("")
    lines.append(
        f"Price lists and registry schemas as shipped in cfn-lint {version} (the pinned linter); "
        "regenerate with `.venv/bin/python scripts/region_matrix.py`."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
