"""Small test-only stacks for the DocumentIndex (Bedrock Knowledge Base) construct.

Synthesized in the session app next to the real stacks, so each gets snapshot, cdk-nag and
cfn-lint checks.
"""

from __future__ import annotations

VARIANTS: dict = {}
