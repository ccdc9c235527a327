"""Pieces every use-case stack shares."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


def alarm_topic(scope: Construct, stack_label: str) -> sns.Topic:
    """A KMS-encrypted, TLS-only SNS topic for alarm notifications (subscribe on-call email/chat after deploying)."""
    key = kms.Key(
        scope, "AlarmTopicKey", enable_key_rotation=True, description=f"Encrypts {stack_label} alarm notifications"
    )
    key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
    return sns.Topic(scope, "AlarmTopic", master_key=key, enforce_ssl=True)
