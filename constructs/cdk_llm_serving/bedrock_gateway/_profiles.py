"""Application inference profiles of gateway aliases (``AWS::Bedrock::ApplicationInferenceProfile``): one per alias
with ``application_inference_profile=``, copied from the alias's system inference profile (cross-Region) or its
foundation model (the stack's Region), carrying cost-allocation tags. The gateway then calls Converse with the
profile's ARN, so Bedrock meters the alias's usage under those tags (after they are activated in Billing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from constructs import Construct

from .aliases import BedrockModelAlias


def copy_from_arn(scope: Construct, alias: BedrockModelAlias) -> str:
    """``modelSource.copyFrom``: the system profile ARN (``inference-profile/us.…``) or the foundation model ARN in
    the stack's Region (``arn:…:bedrock:<region>::foundation-model/…``)."""
    stack = cdk.Stack.of(scope)
    if alias.is_inference_profile:
        return stack.format_arn(service="bedrock", resource="inference-profile", resource_name=alias.model_id)
    return stack.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=alias.model_id)


def construct_id(alias: str) -> str:
    """``Profile<alias letters and digits>`` (aliases may hold ``.``, ``_``, ``:``, ``-``)."""
    return "Profile" + re.sub(r"[^A-Za-z0-9]", "", alias.title())


def build(scope: Construct, models: Sequence[BedrockModelAlias]) -> dict[str, bedrock.CfnApplicationInferenceProfile]:
    """One profile per alias with ``application_inference_profile``, by alias."""
    out: dict[str, bedrock.CfnApplicationInferenceProfile] = {}
    for m in models:
        options = m.application_inference_profile
        if options is None:
            continue
        profile = bedrock.CfnApplicationInferenceProfile(
            scope,
            construct_id(m.alias),
            inference_profile_name="placeholder",
            description=options.description,
            model_source=bedrock.CfnApplicationInferenceProfile.InferenceProfileModelSourceProperty(
                copy_from=copy_from_arn(scope, m)
            ),
            tags=[cdk.CfnTag(key=k, value=v) for k, v in sorted(options.tags.items())] or None,
        )
        # Unique per stack and path, stable; letters, digits and single hyphens (InferenceProfileName pattern).
        profile.inference_profile_name = cdk.Names.unique_resource_name(profile, max_length=64, separator="-")
        out[m.alias] = profile
    return out


def profile_arn(profile: bedrock.CfnApplicationInferenceProfile) -> str:
    """The profile's ARN, composed from its ID (each token is counted by the config-size check)."""
    return cdk.Stack.of(profile).format_arn(
        service="bedrock", resource="application-inference-profile", resource_name=profile.attr_inference_profile_id
    )
