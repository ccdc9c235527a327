#!/usr/bin/env python3
"""CDK app entry point: `cdk synth` / `cdk deploy ChatStack`. Configuration lives in cdk.json context."""

import aws_cdk as cdk

from stacks import build_app

build_app(cdk.App()).synth()
