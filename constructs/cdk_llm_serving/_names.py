"""SageMaker's naming rule for endpoints, endpoint configs, models and inference components (pure Python)."""

from __future__ import annotations

import re

SAGEMAKER_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
SAGEMAKER_NAME_MAX = 63


def is_sagemaker_name(name: str) -> bool:
    """True if ``name`` follows SageMaker's rule: letters, digits and single hyphens between them, at most 63."""
    return len(name) <= SAGEMAKER_NAME_MAX and SAGEMAKER_NAME_RE.match(name) is not None
