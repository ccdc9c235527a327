"""Amazon Bedrock batch inference over OpenAI Batch (or Bedrock) JSONL files (``BedrockBatchInference``).

Deploys: an input and an output bucket (KMS, TLS-only, versioned, server access logs to a third bucket), the service
role Bedrock assumes for the jobs (trusted for this account's batch jobs only), a Step Functions state machine per
run (prepare → CreateModelInvocationJob per part, at most 5 at a time → wait for the job's EventBridge event, polling
every hour as the fallback → collect → notify), its three small Lambda functions, a DynamoDB table of task tokens,
an SNS topic for run summaries, an EventBridge Scheduler schedule at 01:00 Europe/Paris, and a failed-runs alarm.

Idle cost (us-east-1): about $1.20/month (the KMS key $1, 1 alarm on 2 metrics $0.20) + S3 storage of what the runs
keep (90 days); each run costs its tokens at the batch price (about half of on-demand: Nova Lite $0.03 / $0.12 per
1M input / output tokens) plus a few cents of Lambda, Step Functions and S3 requests.

Deploy from the repository root (after ``make setup``; needs AWS credentials and a bootstrapped account)::

    npx --no-install cdk deploy --app ".venv/bin/python examples/bedrock_batch.py"

(``node_modules/.bin/cdk`` is the same pinned CLI.) Then upload an OpenAI Batch file:
``aws s3 cp requests.jsonl s3://<InputBucket>/input/`` — the run starts on upload; results land under
``s3://<OutputBucket>/runs/<run id>/openai/output.jsonl``.
"""

from typing import Any

import aws_cdk as cdk
from constructs import Construct

# [start:batch]
from cdk_llm_serving import BatchInputFormat, BedrockBatchInference, OffPeakWindow

# [end:batch]


class BedrockBatchExample(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # [start:batch]
        batch = BedrockBatchInference(
            self,
            "Batch",
            model_id="us.amazon.nova-lite-v1:0",  # or an application inference profile ARN (cost tags)
            input_format=BatchInputFormat.OPENAI,  # {"custom_id", "method", "url": "/v1/chat/completions", "body"}
            schedule=OffPeakWindow(start="01:00", time_zone="Europe/Paris"),  # + a run per upload under input/
        )
        # [end:batch]
        cdk.CfnOutput(self, "InputBucket", value=batch.input_bucket.bucket_name)
        cdk.CfnOutput(self, "OutputBucket", value=batch.output_bucket.bucket_name)
        cdk.CfnOutput(self, "StartRunCommand", value=batch.start_command)


def build(app: cdk.App) -> cdk.Stack:
    return BedrockBatchExample(app, "BedrockBatchExample")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
