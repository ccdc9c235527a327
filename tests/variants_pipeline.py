"""The delivery pipeline with sample accounts (``PipelineStack`` is added by ``stacks.build_app`` only when cdk.json
has a ``pipeline`` setting, which the repository's cdk.json does not): the pipeline stack and every stack of its
stages get the same snapshot, cdk-nag and cfn-lint checks as the other stacks."""

from __future__ import annotations

import aws_cdk as cdk

from stacks import PipelineSettings, PipelineStack

PIPELINE_ACCOUNT = "111111111111"
STAGING_ACCOUNT = "222222222222"
PROD_ACCOUNT = "333333333333"

#: A cdk.json ``pipeline`` value: staging (IAM-auth chat with a lower throttle, and RAG) then prod (defaults).
SAMPLE_PIPELINE = {
    "account": PIPELINE_ACCOUNT,
    "region": "us-east-1",
    "source": {
        "connection_arn": f"arn:aws:codeconnections:us-east-1:{PIPELINE_ACCOUNT}:connection/11111111-2222-3333-4444-555555555555",
        "repository": "example-org/cdk-llm-serving",
        "branch": "main",
    },
    "environments": [
        {
            "name": "staging",
            "account": STAGING_ACCOUNT,
            "region": "us-east-1",
            "stacks": ["ChatStack", "RagStack"],
            "availability_zones": ["us-east-1a", "us-east-1b"],
            "settings": {"chat": {"auth": "iam", "throttling_rate_limit": 5, "throttling_burst_limit": 10}},
        },
        {"name": "prod", "account": PROD_ACCOUNT, "region": "us-west-2", "stacks": ["ChatStack"]},
    ],
}


def SamplePipelineStack(scope: cdk.App, construct_id: str) -> PipelineStack:  # noqa: N802 - used like a stack class
    """The pipeline of :data:`SAMPLE_PIPELINE` (a plain PipelineStack, as ``stacks.build_app`` adds it)."""
    return PipelineStack(
        scope, construct_id, settings=PipelineSettings.from_context(SAMPLE_PIPELINE, scope.node.try_get_context)
    )


VARIANTS = {"SamplePipelineStack": SamplePipelineStack}
#: The stacks it adds besides itself, as named in the tests: its stages' stacks (the stage path with "-":
#: ``SamplePipelineStack-staging-ChatStack``) and CDK Pipelines' support stack for the us-west-2 actions.
PIPELINE_STACKS = {
    f"cross-region-stack-{PIPELINE_ACCOUNT}_us-west-2",
    "SamplePipelineStack-staging-ChatStack",
    "SamplePipelineStack-staging-RagStack",
    "SamplePipelineStack-prod-ChatStack",
}
