"""The cdk-nag gate: AwsSolutions and NIST 800-53 R5 checks on every stack of the app, stages included.

cdk-nag 3 is a CDK validation plugin. Registered on the **App** it validates the stacks of every nested
``cdk.Stage`` too (the delivery pipeline's environments) and ``app.synth()`` fails on any unacknowledged
finding, which fails ``make synth`` and so the pipeline's synth step. Registered on a Stage that CDK Pipelines
deploys (the pipeline synthesizes each stage when it is added) it reports nothing: an empty report and a green synth
(tests/test_pipeline.py shows both). So it is registered here, once, on the App: by app.py and by the tests'
session app.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks


def add_nag_gate(app: cdk.App) -> cdk.App:
    """Register the cdk-nag rule packs on ``app`` (the App, never a Stage); returns ``app``."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(), NIST80053R5Checks())
    return app
