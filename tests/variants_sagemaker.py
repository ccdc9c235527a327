"""Small test-only stacks, one per SageMakerLlmEndpoint mode (and LoRA fleet variants).

Synthesized in the session app next to the real stacks, so each gets snapshot, cdk-nag and
cfn-lint checks.
"""

from __future__ import annotations

VARIANTS: dict = {}
