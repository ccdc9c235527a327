"""Upstream rules for DocumentIndex (Bedrock Knowledge Bases, S3 Vectors), checked at synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("KB.<NAME>", ...)``.
"""

from __future__ import annotations

from .._rules import RuleSet

#: Rules for DocumentIndex (Bedrock Knowledge Bases, S3 Vectors). Subjects are whatever the construct is about to emit.
RULES: RuleSet = RuleSet("KB")
