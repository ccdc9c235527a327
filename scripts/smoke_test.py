#!/usr/bin/env python3
"""Post-deployment smoke test of a gateway stack (the delivery pipeline runs it after each environment).

1. ``GET <stage>/health`` answers 200 (API Gateway's mock: the API and stage are deployed).
2. ``GET /v1/models`` without credentials is refused with 401 or 403 (the authorizer or IAM auth is in place).
3. With IAM auth and ``--role-arn``: the role is assumed (STS) and ``GET /v1/models`` is SigV4-signed with the
   official ``openai`` SDK (``scripts/call_gateway.py``'s signer); it must list every alias of ``--expect-models``.
   Cognito stacks skip this step: a user pool with required TOTP MFA cannot be signed in to unattended.

Usage::

    scripts/smoke_test.py --base-url https://abc.execute-api.us-east-1.amazonaws.com/prod/v1 --auth cognito \
        --expect-models chat-fast,chat-smart
    scripts/smoke_test.py --base-url ... --auth iam --role-arn arn:aws:iam::222222222222:role/cdk-llm-serving-smoke-staging
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def _call_gateway() -> Any:
    spec = importlib.util.spec_from_file_location("call_gateway", Path(__file__).with_name("call_gateway.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("call_gateway", module)
    spec.loader.exec_module(module)
    return module


def _status(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the gateway's own URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def smoke(
    base_url: str,
    *,
    auth: str,
    expect_models: list[str],
    credentials: Any = None,
    region: str | None = None,
    timeout: float = 10,
) -> list[str]:
    """The failed checks (empty: the gateway passed). ``credentials`` sign step 3 (IAM auth only)."""
    base_url = base_url.rstrip("/")
    stage_url = base_url.removesuffix("/v1")
    failed = []
    health = _status(f"{stage_url}/health", timeout)
    if health != 200:
        failed.append(f"GET /health answered {health}, expected 200")
    anonymous = _status(f"{base_url}/models", timeout)
    if auth != "none" and anonymous not in (401, 403):
        failed.append(f"GET /v1/models without credentials answered {anonymous}, expected 401 or 403 ({auth} auth)")
    if auth == "iam" and credentials is not None:
        cg = _call_gateway()
        region = region or cg.region_of(base_url)
        if not region:
            return [*failed, f"cannot tell the Region from {base_url}: pass --region"]
        client = cg.iam_client(base_url, region=region, credentials=credentials, max_retries=1, timeout=timeout)
        listed = {m.id for m in client.models.list()}
        missing = sorted(set(expect_models) - listed)
        if missing:
            failed.append(f"signed GET /v1/models lists {sorted(listed)}, missing {missing}")
    return failed


def _assumed_credentials(role_arn: str) -> Any:
    import boto3
    from botocore.credentials import Credentials

    creds = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="smoke-test")["Credentials"]
    return Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--base-url", required=True, help="the stack's OpenAIBaseUrl output (…/prod/v1)")
    p.add_argument("--auth", required=True, choices=("cognito", "iam", "none"), help="the stack's AuthMode output")
    p.add_argument("--expect-models", default="", help="comma-separated aliases (the stack's ModelAliases output)")
    p.add_argument("--role-arn", help="IAM auth: role to assume for the signed GET /v1/models")
    p.add_argument("--region", help="default: from the URL")
    args = p.parse_args(argv)
    credentials = _assumed_credentials(args.role_arn) if args.role_arn else None
    failed = smoke(
        args.base_url,
        auth=args.auth,
        expect_models=[a for a in args.expect_models.split(",") if a],
        credentials=credentials,
        region=args.region,
    )
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    if not failed:
        print(f"smoke test passed: {args.base_url} ({args.auth})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
