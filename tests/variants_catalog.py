"""The Service Catalog portfolio with a sample account (``CatalogStack`` is added by ``stacks.build_app`` only when
cdk.json has a ``catalog`` setting): the catalog stack gets the snapshot, cdk-nag and cfn-lint checks of every stack,
and its product templates (assets of the catalog stack) are linted and nag'ed by tests/test_catalog.py."""

from __future__ import annotations

import aws_cdk as cdk

from stacks import CatalogSettings, CatalogStack, ChatSettings, RagSettings

CATALOG_ACCOUNT = "444444444444"
SAMPLE_CATALOG = {
    "account": CATALOG_ACCOUNT,
    "region": "us-east-1",
    "provider_name": "Example platform team",
    "consumer_role_arns": [f"arn:aws:iam::{CATALOG_ACCOUNT}:role/app-team-developers"],
    "availability_zones": ["us-east-1a", "us-east-1b"],
}


def SampleCatalogStack(scope: cdk.App, construct_id: str) -> CatalogStack:  # noqa: N802 - used like a stack class
    """The catalog of :data:`SAMPLE_CATALOG`, its products configured by cdk.json's ``chat`` and ``rag`` settings."""
    return CatalogStack(
        scope,
        construct_id,
        settings=CatalogSettings.from_context(SAMPLE_CATALOG),
        chat=ChatSettings.from_context(scope.node.try_get_context("chat")),
        rag=RagSettings.from_context(scope.node.try_get_context("rag")),
    )


VARIANTS = {"SampleCatalogStack": SampleCatalogStack}
