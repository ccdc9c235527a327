"""Upstream rules for BedrockGatewayApi (API Gateway, WAF, Bedrock, Cognito), checked at synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("GATEWAY.<NAME>", ...)``.
"""

from __future__ import annotations

from .._rules import RuleSet

#: Rules for BedrockGatewayApi (API Gateway, WAF, Bedrock, Cognito). Subjects are whatever the construct is about to emit.
RULES: RuleSet = RuleSet("GATEWAY")
