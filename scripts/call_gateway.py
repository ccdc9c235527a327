#!/usr/bin/env python3
"""Call a deployed gateway (ChatStack, RagStack, LoraStack) with the official ``openai`` SDK.

Two auth modes, as the stacks deploy them:

* **cognito** (ChatStack's default): signs in to the stack's user pool with ``USER_PASSWORD_AUTH``
  and answers the challenges the pool asks for: ``NEW_PASSWORD_REQUIRED`` (first sign-in with a
  temporary password), ``MFA_SETUP`` (TOTP MFA is required: ``AssociateSoftwareToken`` returns a
  secret, printed once for your authenticator app, then ``VerifySoftwareToken`` with its first code)
  and ``SOFTWARE_TOKEN_MFA`` (a code from the app on every later sign-in). The ID token is sent as
  ``Authorization: Bearer <IdToken>``, which is what the SDK does with its ``api_key``.
* **iam** (RagStack, LoraStack, ChatStack with ``auth: iam``): every request is signed with SigV4
  for the service ``execute-api`` (botocore's ``SigV4Auth``) by an ``httpx`` auth hook on the
  client handed to the SDK, streaming requests included. Credentials come from the standard AWS
  configuration (profile, environment, SSO, instance role); the caller needs ``execute-api:Invoke``
  (``gateway.grant_invoke(role)``).

Examples::

    scripts/call_gateway.py --stack ChatStack --username you@example.com "Explain inference profiles."
    scripts/call_gateway.py --stack LoraStack --model support "Reset my password"
    scripts/call_gateway.py --stack ChatStack --username you@example.com --print-token   # ID token on stdout
    GATEWAY_ID_TOKEN=... scripts/call_gateway.py --stack ChatStack --list-models
    scripts/call_gateway.py --base-url https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1 --auth iam "Hi"

The stack's outputs (``OpenAIBaseUrl``, or ``ApiUrl`` + ``v1``; ``UserPoolClientId``) are read with
CloudFormation ``DescribeStacks``; ``--base-url`` and ``--client-id`` replace them (Cognito sign-in
itself needs no AWS credentials). RagStack's API is private: run this from inside its VPC.
The password is read from ``GATEWAY_PASSWORD`` or prompted for; nothing is written to disk.

Dependencies: boto3 and openai (both in requirements-dev.txt); httpx comes with openai (the openai
SDK pinned here uses the ``httpx2`` distribution, older ones ``httpx``: the same ``Auth`` API).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import boto3
from botocore.auth import SigV4Auth as _BotocoreSigV4
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError

try:  # openai >= 3 ships on httpx2; earlier releases on httpx. Both have the same Auth/Client API.
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai release
    import httpx  # type: ignore[no-redef]

import openai

#: SigV4 service name of API Gateway's invoke API.
EXECUTE_API = "execute-api"
#: ``<api id>.execute-api.<region>.amazonaws.com`` and the private ``<api id>-<vpce id>.execute-api...`` form.
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9-]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
#: Headers that go into the signature. Host and X-Amz-Date are required by SigV4; Content-Type is
#: signed because API Gateway validates the body against it. Other headers (the SDK's User-Agent,
#: X-Stainless-*, Accept-Encoding, Connection) are left out: anything that rewrites them on the way
#: would otherwise invalidate the signature, and signing them protects nothing.
_SIGNED = ("content-type",)


class SignInError(RuntimeError):
    """Cognito did not issue tokens; the message says why and what to do."""


# --------------------------------------------------------------------------------------------- IAM


class SigV4Auth(httpx.Auth):
    """An httpx auth hook that signs each request with SigV4 (botocore's signer).

    The body is read before signing (``requires_request_body``) because SigV4 covers its SHA-256;
    the openai SDK sends JSON bodies, so this holds for streaming completions too (only the
    *response* streams). Every attempt is signed anew, so the SDK's retries get a fresh
    ``X-Amz-Date``. ``credentials`` may be refreshable (``boto3.Session().get_credentials()``):
    they are frozen per request.
    """

    requires_request_body = True

    def __init__(self, credentials: Credentials | ReadOnlyCredentials, region: str, service: str = EXECUTE_API) -> None:
        if not region:
            raise ValueError("SigV4 needs the API's Region (it is part of the signature's credential scope)")
        self._credentials = credentials
        self.region = region
        self.service = service

    def _frozen(self) -> ReadOnlyCredentials:
        creds = self._credentials
        return creds.get_frozen_credentials() if hasattr(creds, "get_frozen_credentials") else creds

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        frozen = self._frozen()
        headers = {name: request.headers[name] for name in _SIGNED if name in request.headers}
        headers["host"] = request.headers.get("host") or request.url.netloc.decode("ascii")
        aws_request = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
        _BotocoreSigV4(
            Credentials(frozen.access_key, frozen.secret_key, frozen.token), self.service, self.region
        ).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in aws_request.headers:
                request.headers[name] = aws_request.headers[name]
            elif name in request.headers:  # never send a stale value, e.g. a previous attempt's token
                del request.headers[name]
        yield request


def iam_client(
    base_url: str, *, region: str, credentials: Credentials | ReadOnlyCredentials, **kwargs: Any
) -> openai.OpenAI:
    """An OpenAI client whose every request is SigV4-signed for ``execute-api`` in ``region``.

    ``api_key`` is required by the SDK but never sent: the signer replaces the SDK's
    ``Authorization: Bearer`` header with the SigV4 one.
    """
    http_client = openai.DefaultHttpxClient(auth=SigV4Auth(credentials, region))  # the SDK's timeouts and limits
    return openai.OpenAI(base_url=base_url, api_key="sigv4", http_client=http_client, **kwargs)


# ----------------------------------------------------------------------------------------- Cognito


class Prompter(Protocol):
    """What the sign-in asks of the person at the keyboard."""

    def new_password(self) -> str: ...
    def attribute(self, name: str) -> str: ...
    def show_totp_secret(self, secret: str, uri: str) -> None: ...
    def totp_code(self) -> str: ...


class TerminalPrompter:
    """Asks on the terminal; messages go to stderr so stdout stays the API's answer (or the token)."""

    def __init__(
        self,
        out: Any = None,
        read_secret: Callable[[str], str] = getpass.getpass,
        read_line: Callable[[str], str] | None = None,
    ) -> None:
        self._out = out or sys.stderr
        self._read_secret = read_secret
        self._read_line = read_line or self._input

    def _input(self, prompt: str) -> str:
        print(prompt, end="", file=self._out, flush=True)
        return sys.stdin.readline().strip()

    def new_password(self) -> str:
        print(
            "This is the first sign-in with a temporary password: choose a new one "
            "(12+ characters with upper and lower case, a digit and a symbol).",
            file=self._out,
        )
        first = self._read_secret("New password: ")
        if self._read_secret("Repeat it: ") != first:
            raise SignInError("the two new passwords differ; run again")
        return first

    def attribute(self, name: str) -> str:
        return self._read_line(f"The user pool requires '{name}': ")

    def show_totp_secret(self, secret: str, uri: str) -> None:
        print(
            "TOTP MFA is required and not set up yet. Add this secret to an authenticator app now\n"
            "(it is shown only this once; the app can also read the otpauth URI as a QR code):\n"
            f"  secret: {secret}\n  uri:    {uri}",
            file=self._out,
        )

    def totp_code(self) -> str:
        return self._read_line("6-digit code from your authenticator app: ").replace(" ", "")


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    """The Key URI format authenticator apps import (``otpauth://totp/<issuer>:<account>?secret=…``)."""
    return f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret}&issuer={quote(issuer)}"


def _json_list(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def sign_in(
    idp: Any,
    *,
    client_id: str,
    username: str,
    password: str,
    prompter: Prompter,
    issuer: str = "cdk-llm-serving",
    max_challenges: int = 6,
) -> dict[str, Any]:
    """Sign in with ``USER_PASSWORD_AUTH`` and answer the pool's challenges; return ``AuthenticationResult``.

    ``idp`` is a boto3 ``cognito-idp`` client. Challenge responses name the user by
    ``USER_ID_FOR_SRP`` when Cognito returns it: with email as the sign-in attribute the real username
    is a generated ID, and challenge responses must use it, not the alias (InitiateAuth's
    ChallengeParameters documentation), so the name is carried to the later challenges.
    """

    def call(operation: str, **params: Any) -> dict[str, Any]:
        try:
            return getattr(idp, operation)(**params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            hint = _SIGN_IN_HINTS.get(err.get("Code", ""), "")
            raise SignInError(f"{operation}: {err.get('Code')}: {err.get('Message')}{hint}") from exc

    response = call(
        "initiate_auth",
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    user = username  # becomes the real username once Cognito names it; later challenges may not repeat it
    for _ in range(max_challenges):
        if "AuthenticationResult" in response:
            return response["AuthenticationResult"]
        name = response.get("ChallengeName")
        params = response.get("ChallengeParameters", {})
        session = response.get("Session")
        user = params.get("USER_ID_FOR_SRP", user)
        answers: dict[str, str] = {"USERNAME": user}
        if name == "NEW_PASSWORD_REQUIRED":
            answers["NEW_PASSWORD"] = prompter.new_password()
            for attr in _json_list(params.get("requiredAttributes")):
                key = attr if attr.startswith("userAttributes.") else f"userAttributes.{attr}"
                answers[key] = prompter.attribute(key.removeprefix("userAttributes."))
        elif name == "MFA_SETUP":
            can_set_up = _json_list(params.get("MFAS_CAN_SETUP")) or ["SOFTWARE_TOKEN_MFA"]
            if "SOFTWARE_TOKEN_MFA" not in can_set_up:
                raise SignInError(f"the pool asks to set up MFA of kind {can_set_up}; this script sets up TOTP only")
            associated = call("associate_software_token", Session=session)
            prompter.show_totp_secret(associated["SecretCode"], otpauth_uri(associated["SecretCode"], username, issuer))
            verified = call(
                "verify_software_token",
                Session=associated["Session"],
                UserCode=prompter.totp_code(),
                FriendlyDeviceName=issuer[:128],
            )
            if verified.get("Status") != "SUCCESS":
                raise SignInError("VerifySoftwareToken did not accept the code (clock skew on the device?); run again")
            session = verified["Session"]
        elif name == "SOFTWARE_TOKEN_MFA":
            answers["SOFTWARE_TOKEN_MFA_CODE"] = prompter.totp_code()
        elif name == "SELECT_MFA_TYPE":
            answers["ANSWER"] = "SOFTWARE_TOKEN_MFA"
        else:
            raise SignInError(
                f"Cognito asked for the challenge {name!r}, which this script does not answer "
                "(it handles NEW_PASSWORD_REQUIRED, MFA_SETUP, SOFTWARE_TOKEN_MFA, SELECT_MFA_TYPE)"
            )
        request: dict[str, Any] = {"ClientId": client_id, "ChallengeName": name, "ChallengeResponses": answers}
        if session:
            request["Session"] = session
        response = call("respond_to_auth_challenge", **request)
    raise SignInError(f"no tokens after {max_challenges} challenges")


_SIGN_IN_HINTS = {
    "NotAuthorizedException": " (wrong username or password, an expired temporary password - an admin can resend it"
    " with admin-create-user --message-action RESEND -, or an expired session: run again)",
    "UserNotFoundException": " (no such user in this pool: an admin creates users, self sign-up is off)",
    "PasswordResetRequiredException": " (an admin reset the password: admin-set-user-password, then run again)",
    "CodeMismatchException": " (wrong or reused code: wait for the next one and run again)",
    "EnableSoftwareTokenMFAException": " (the code did not verify: check the device clock and run again)",
    "InvalidPasswordException": " (the new password does not meet the pool's policy: 12+ characters, upper and"
    " lower case, a digit and a symbol)",
}


def cognito_client(base_url: str, id_token: str, **kwargs: Any) -> openai.OpenAI:
    """An OpenAI client sending ``Authorization: Bearer <IdToken>`` (the API's Cognito authorizer reads it)."""
    return openai.OpenAI(base_url=base_url, api_key=id_token, **kwargs)


# ------------------------------------------------------------------------------------ stack outputs


@dataclass(frozen=True)
class Target:
    """Where and how to call one deployed gateway."""

    base_url: str
    auth: str
    region: str | None
    client_id: str | None = None
    user_pool_id: str | None = None
    model_aliases: tuple[str, ...] = ()


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The stack's outputs, by key (CloudFormation ``DescribeStacks``)."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def region_of(url: str) -> str | None:
    """The Region in an ``execute-api`` URL, or None for another host (pass ``--region`` then)."""
    match = _EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def target_from_outputs(
    outputs: Mapping[str, str],
    *,
    base_url: str | None = None,
    auth: str | None = None,
    client_id: str | None = None,
    region: str | None = None,
) -> Target:
    """Resolve base URL, auth mode and Region from a gateway stack's outputs (arguments win).

    Base URL: ``OpenAIBaseUrl``, else ``ApiUrl`` + ``v1``. Auth: ``AuthMode`` when the stack has
    it (ChatStack), else ``cognito`` when it has a ``UserPoolClientId``, else ``iam``.
    """
    url = base_url or outputs.get("OpenAIBaseUrl")
    if not url and outputs.get("ApiUrl"):
        url = outputs["ApiUrl"].rstrip("/") + "/v1"
    if not url:
        raise SystemExit(
            f"the stack has no OpenAIBaseUrl or ApiUrl output (outputs: {sorted(outputs)}); pass --base-url"
        )
    client_id = client_id or outputs.get("UserPoolClientId")
    mode = auth or outputs.get("AuthMode") or ("cognito" if client_id else "iam")
    if mode not in ("cognito", "iam", "none"):
        raise SystemExit(f"unknown auth mode {mode!r}; use cognito, iam or none")
    aliases = tuple(a for a in outputs.get("ModelAliases", "").split(",") if a)
    return Target(
        base_url=url.rstrip("/"),
        auth=mode,
        region=region or region_of(url),
        client_id=client_id,
        user_pool_id=outputs.get("UserPoolId"),
        model_aliases=aliases,
    )


# --------------------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    examples = doc[doc.index("Examples::") : doc.index("The stack's outputs")] if "Examples::" in doc else ""
    p = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        epilog=examples.replace("::", ":"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("prompt", nargs="*", help="the user message (default: a short greeting)")
    p.add_argument("--stack", help="CloudFormation stack to read the outputs of (ChatStack, LoraStack, RagStack)")
    p.add_argument("--base-url", help="the API's OpenAI base URL (…/prod/v1); replaces the stack's output")
    p.add_argument("--auth", choices=("cognito", "iam", "none"), help="default: from the stack's outputs")
    p.add_argument("--region", help="the API's Region; default: from the URL, else the AWS configuration")
    p.add_argument("--profile", help="AWS profile for DescribeStacks and SigV4 (default: the standard chain)")
    p.add_argument("--client-id", help="Cognito app client ID; replaces the stack's UserPoolClientId output")
    p.add_argument("--username", help="Cognito username (the email address the admin created)")
    p.add_argument(
        "--id-token",
        default=os.environ.get("GATEWAY_ID_TOKEN"),
        help="use this Cognito ID token instead of signing in (default: $GATEWAY_ID_TOKEN)",
    )
    p.add_argument("--print-token", action="store_true", help="sign in, print the ID token on stdout and stop")
    p.add_argument("--model", help="model alias (default: the stack's first ModelAliases entry, else the first listed)")
    p.add_argument("--list-models", action="store_true", help="print the allowlisted aliases (GET /v1/models) and stop")
    p.add_argument("--max-tokens", type=int, help="max_tokens of the request (the gateway caps it per alias)")
    p.add_argument("--no-stream", action="store_true", help="one JSON completion instead of a stream")
    return p


def _session(args: argparse.Namespace, region: str | None) -> boto3.Session:
    return boto3.Session(profile_name=args.profile, region_name=region or args.region)


def build_client(
    args: argparse.Namespace,
    target: Target,
    session: boto3.Session,
    *,
    idp: Any = None,
    prompter: Prompter | None = None,
) -> openai.OpenAI:
    """The OpenAI client for ``target``'s auth mode (signing in to Cognito when needed)."""
    if target.auth == "iam":
        region = target.region or session.region_name
        credentials = session.get_credentials()
        if not region:
            raise SystemExit("cannot tell the API's Region from its URL: pass --region")
        if credentials is None:
            raise SystemExit("IAM auth needs AWS credentials (profile, environment or role); none were found")
        return iam_client(target.base_url, region=region, credentials=credentials)
    if target.auth == "none":
        return openai.OpenAI(base_url=target.base_url, api_key="none")
    token = args.id_token
    if not token:
        token = _sign_in_token(args, target, session, idp=idp, prompter=prompter)
    return cognito_client(target.base_url, token)


def _sign_in_token(
    args: argparse.Namespace,
    target: Target,
    session: boto3.Session,
    *,
    idp: Any = None,
    prompter: Prompter | None = None,
) -> str:
    if not target.client_id:
        raise SystemExit("Cognito sign-in needs the app client ID: --stack (UserPoolClientId output) or --client-id")
    if not args.username:
        raise SystemExit("Cognito sign-in needs --username (the email address an admin created, see the README)")
    pool_region = (target.user_pool_id or "").partition("_")[0] or target.region or session.region_name
    idp = idp or session.client("cognito-idp", region_name=pool_region)
    password = os.environ.get("GATEWAY_PASSWORD") or getpass.getpass(f"Password for {args.username}: ")
    result = sign_in(
        idp,
        client_id=target.client_id,
        username=args.username,
        password=password,
        prompter=prompter or TerminalPrompter(),
        issuer=args.stack or "cdk-llm-serving",
    )
    return result["IdToken"]


def _default_model(client: openai.OpenAI, target: Target) -> str:
    if target.model_aliases:
        return target.model_aliases[0]
    models = [m.id for m in client.models.list()]
    if not models:
        raise SystemExit("the gateway lists no models")
    return models[0]


def _print_stream(chunks: Iterable[Any], out: Any) -> Any:
    usage = None
    for chunk in chunks:
        if chunk.choices:
            out.write(chunk.choices[0].delta.content or "")
            out.flush()
        if chunk.usage:
            usage = chunk.usage
    out.write("\n")
    return usage


def main(argv: list[str] | None = None, *, out: Any = None, idp: Any = None, prompter: Prompter | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    if not args.stack and not args.base_url:
        raise SystemExit("pass --stack (to read its outputs) or --base-url")
    session = _session(args, args.region)
    outputs: dict[str, str] = {}
    if args.stack:
        region = args.region or (region_of(args.base_url) if args.base_url else None)
        try:
            outputs = stack_outputs(_session(args, region).client("cloudformation"), args.stack)
        except (BotoCoreError, ClientError) as exc:
            raise SystemExit(
                f"cannot read the outputs of stack {args.stack!r}: {exc} (pass --region, check the AWS "
                "credentials, or skip CloudFormation with --base-url and --client-id)"
            ) from exc
    target = target_from_outputs(
        outputs, base_url=args.base_url, auth=args.auth, client_id=args.client_id, region=args.region
    )
    if args.print_token:
        if target.auth != "cognito":
            raise SystemExit(f"--print-token is for Cognito auth; this API uses {target.auth}")
        print(_sign_in_token(args, target, session, idp=idp, prompter=prompter), file=out)
        return 0
    client = build_client(args, target, session, idp=idp, prompter=prompter)
    try:
        if args.list_models:
            for model in client.models.list():
                print(model.id, file=out)
            return 0
        model = args.model or _default_model(client, target)
        request: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": " ".join(args.prompt) or "Say hello in one sentence."}],
        }
        if args.max_tokens:
            request["max_tokens"] = args.max_tokens
        if args.no_stream:
            completion = client.chat.completions.create(**request)
            print(completion.choices[0].message.content, file=out)
            usage = completion.usage
        else:
            usage = _print_stream(
                client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True}), out
            )
        if usage is not None:
            print(
                f"[{model}: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens]",
                file=sys.stderr,
            )
        return 0
    except openai.APIStatusError as exc:
        print(f"HTTP {exc.status_code}: {exc.message}{_api_hint(exc.status_code, target.auth)}", file=sys.stderr)
        return 1
    except openai.APIConnectionError as exc:
        print(
            f"cannot reach {target.base_url}: {exc.__cause__ or exc} (a private API, like RagStack's, resolves and"
            " answers only inside its VPC)",
            file=sys.stderr,
        )
        return 1


def _api_hint(status: int, auth: str) -> str:
    if status == 401:
        return " (Cognito: the ID token is missing, expired - it lasts 60 minutes - or from another pool)"
    if status == 403 and auth == "iam":
        return (
            " (IAM: the caller lacks execute-api:Invoke on this API - gateway.grant_invoke(role) -, the request was"
            " signed for another Region, or, for a private API, it did not come through the VPC endpoint)"
        )
    return ""


if __name__ == "__main__":
    sys.exit(main())
