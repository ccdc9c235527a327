#!/usr/bin/env python3
"""CDK app entry point: `cdk synth` / `cdk deploy ChatStack`. Configuration lives in cdk.json context.

cdk-nag checks every stack (the pipeline's stages included) and fails the synth on unacknowledged findings.
"""

import aws_cdk as cdk

from stacks import build_app
from stacks.nag_gate import add_nag_gate

build_app(add_nag_gate(cdk.App())).synth()
