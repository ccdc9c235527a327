"""Upstream rules for BedrockGatewayApi (API Gateway, WAF, Bedrock, Cognito), checked at synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("GATEWAY.<NAME>", ...)``.
"""

from __future__ import annotations

from .._rules import RuleSet

#: Rules for BedrockGatewayApi (API Gateway, WAF, Bedrock, Cognito). Subjects are whatever the construct is about to emit.
RULES: RuleSet = RuleSet("GATEWAY")


# ----------------------------------------------------------------------------------------------------------------
# SageMaker Runtime limits the gateway's own limits must respect (subject: SageMakerLimitsSubject).

from collections.abc import Iterator  # noqa: E402  (imports kept inside this block)
from dataclasses import dataclass  # noqa: E402

#: Largest request body InvokeEndpoint / InvokeEndpointWithResponseStream accept, bytes (the gateway runtime's
#: ``sagemaker.MAX_BODY_BYTES`` enforces the same number per request).
SAGEMAKER_MAX_BODY_BYTES = 6_291_456


@dataclass(frozen=True)
class SageMakerLimitsSubject:
    """What the SageMaker-limit rules look at: the gateway's body limit and its SageMaker aliases."""

    max_request_bytes: int
    sagemaker_aliases: tuple[str, ...]


#: Rules about SageMaker Runtime limits (same GATEWAY family, its own subject).
SAGEMAKER_RULES: RuleSet = RuleSet("GATEWAY")


@SAGEMAKER_RULES.rule(
    "GATEWAY.SAGEMAKER_BODY_LIMIT",
    "SageMaker Runtime accepts request bodies of at most 6291456 bytes (4 MB on serverless endpoints), so a gateway"
    " with SageMaker aliases must not promise callers more",
    source="botocore sagemaker-runtime 2017-05-13 service-2.json: shape BodyBlob {max: 6291456} (Body of InvokeEndpoint"
    " and InvokeEndpointWithResponseStream); SageMaker Developer Guide 'Invoke a serverless endpoint'"
    " (serverless-endpoints-invoke.html): 'The maximum request and response payload size for serverless"
    " invocations is 4 MB'",
)
def _sagemaker_body_limit(subject: SageMakerLimitsSubject) -> Iterator[str]:
    if subject.sagemaker_aliases and subject.max_request_bytes > SAGEMAKER_MAX_BODY_BYTES:
        yield (
            f"limits.max_request_bytes is {subject.max_request_bytes}, but the SageMaker aliases"
            f" {', '.join(repr(a) for a in subject.sagemaker_aliases)} call InvokeEndpoint, which accepts at most"
            f" {SAGEMAKER_MAX_BODY_BYTES} bytes (4 MB on serverless endpoints); set"
            f" GatewayLimits(max_request_bytes=...) to {SAGEMAKER_MAX_BODY_BYTES} or less"
        )
