"""cdk.json carries aws-cdk-lib's recommended feature flags, as a `cdk init` app does.

Without them a user who imports our constructs into a new app gets other templates than the ones
we test (the review found EKS then failing cdk-nag, and the node group defaulting to AL2).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import aws_cdk

from harness import feature_flags

#: Flags deliberately set to something other than the recommendation, each with its reason
#: (the README's "Feature flags" section lists the same). None today.
EXCEPTIONS: dict[str, str] = {}


def _recommended() -> dict[str, object]:
    """``recommended-feature-flags.json`` from the installed aws-cdk-lib (inside its jsii tarball)."""
    (tgz,) = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(tgz) as tar:
        member = tar.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        return json.load(member)


def test_cdk_json_has_every_recommended_flag_with_its_value() -> None:
    recommended = _recommended()
    assert len(recommended) >= 89  # 2.275.0 ships 89
    ours = feature_flags()
    missing = sorted(set(recommended) - set(ours))
    assert not missing, f"cdk.json lacks recommended flags: {missing}"
    differ = {k: (ours[k], v) for k, v in recommended.items() if ours[k] != v and k not in EXCEPTIONS}
    assert not differ, f"cdk.json differs from the recommendation (ours, recommended): {differ}"
    assert not set(ours) - set(recommended), "cdk.json has flags aws-cdk-lib does not recommend"


def test_tests_synthesize_with_the_flags() -> None:
    app = aws_cdk.App()  # conftest passes the flags the way the CLI does (CDK_CONTEXT_JSON)
    assert app.node.try_get_context("@aws-cdk/aws-eks:defaultToAL2023") is True
    assert {k: app.node.try_get_context(k) for k in feature_flags()} == feature_flags()
