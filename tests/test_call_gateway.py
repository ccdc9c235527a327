"""scripts/call_gateway.py, offline.

* IAM: the script's SigV4 hook signs every request the official ``openai`` SDK sends (model list,
  completion, streamed completion) to a server on 127.0.0.1 that *verifies* each signature the way
  API Gateway does (the canonical request rebuilt from what arrived on the wire, signed with the
  same secret), so a header changed after signing or a body hash that does not match fails.
* Cognito: the challenge loop runs against a botocore ``Stubber`` for ``cognito-idp``, which
  checks every request and canned response against botocore's service model (real shapes:
  session lengths, the 6-digit code pattern, the ChallengeName enum); the ID token then reaches the
  server as ``Authorization: Bearer <IdToken>``.
* Outputs: the base URL and auth mode are resolved from the output keys the stacks synthesize.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from harness import REPO, Synthesis


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("call_gateway", REPO / "scripts" / "call_gateway.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["call_gateway"] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


cg = _load_script()

REGION = "eu-west-1"
CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "session-token-for-the-test")
ID_TOKEN = "eyJraWQiOiJ0ZXN0In0.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
#: The header shape API Gateway expects (SigV4 for the service execute-api).
AUTH_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/execute-api/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


def verify_sigv4(method: str, url: str, headers: dict[str, str], body: bytes, credentials: Credentials) -> str | None:
    """None when ``Authorization`` is a valid SigV4 signature of this request, else why not."""
    match = AUTH_HEADER.match(headers.get("authorization", ""))
    if not match:
        return f"Authorization header not SigV4/execute-api: {headers.get('authorization')!r}"
    signed = match["signed"].split(";")
    missing = [h for h in signed if h not in headers]
    if missing or "host" not in signed or "x-amz-date" not in signed:
        return f"signed headers {signed} (missing on the wire: {missing})"
    request = AWSRequest(method=method, url=url, data=body, headers={h: headers[h] for h in signed})
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(credentials, "execute-api", match["region"])
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return None if expected == match["sig"] else "signature mismatch"


class FakeGateway:
    """An OpenAI-shaped API on 127.0.0.1 behind SigV4 (``auth="iam"``) or a bearer token (``"cognito"``)."""

    def __init__(self, auth: str) -> None:
        self.auth = auth
        self.requests: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = f"http://{headers['host']}{self.path}"
                problem = (
                    verify_sigv4(self.command, url, headers, body, CREDS)
                    if gateway.auth == "iam"
                    else None
                    if headers.get("authorization") == f"Bearer {ID_TOKEN}"
                    else "bad bearer token"
                )
                gateway.requests.append(
                    {"method": self.command, "path": self.path, "headers": headers, "body": body, "problem": problem}
                )
                if problem:
                    return self._json(
                        403 if gateway.auth == "iam" else 401,
                        {"error": {"message": problem, "type": "authentication_error", "code": "denied"}},
                    )
                if self.path == "/prod/v1/models":
                    return self._json(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": "chat-fast", "object": "model", "created": 0, "owned_by": "bedrock"}],
                        },
                    )
                request = json.loads(body)
                if request.get("stream"):
                    return self._stream(request["model"])
                return self._json(
                    200,
                    {
                        "id": "c1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": request["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "signed hello"},
                            }
                        ],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                    },
                )

            do_GET = do_POST = _handle

            def _json(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, model: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                base = {"id": "c2", "object": "chat.completion.chunk", "created": 0, "model": model}
                for piece in ("str", "eamed"):
                    frame = {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(frame)}\n\n".encode())
                usage = {
                    **base,
                    "choices": [],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                }
                self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/prod/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def iam_gateway():
    gateway = FakeGateway("iam")
    yield gateway
    gateway.close()


@pytest.fixture
def cognito_gateway():
    gateway = FakeGateway("cognito")
    yield gateway
    gateway.close()


# ------------------------------------------------------------------------------------------ SigV4


def test_every_sdk_request_is_sigv4_signed_for_execute_api(iam_gateway: FakeGateway) -> None:
    client = cg.iam_client(iam_gateway.base_url, region=REGION, credentials=CREDS, max_retries=0)

    assert [m.id for m in client.models.list()] == ["chat-fast"]
    done = client.chat.completions.create(model="chat-fast", messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "signed hello"
    stream = client.chat.completions.create(
        model="chat-fast",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert "".join(c.choices[0].delta.content for c in stream if c.choices) == "streamed"

    assert [(r["method"], r["path"]) for r in iam_gateway.requests] == [
        ("GET", "/prod/v1/models"),
        ("POST", "/prod/v1/chat/completions"),
        ("POST", "/prod/v1/chat/completions"),
    ]
    for r in iam_gateway.requests:
        assert r["problem"] is None, r["problem"]  # the server recomputed the signature from the wire and it matched
        m = AUTH_HEADER.match(r["headers"]["authorization"])
        assert (m["akid"], m["region"]) == ("AKIDEXAMPLE", REGION)
        assert {"host", "x-amz-date", "x-amz-security-token"} <= set(m["signed"].split(";"))
        assert r["headers"]["x-amz-security-token"] == CREDS.token
        assert "Bearer" not in r["headers"]["authorization"]  # the SDK's own api_key header is replaced
    # The POST bodies were signed (content-type too: API Gateway validates the body against it).
    assert all(
        "content-type" in AUTH_HEADER.match(r["headers"]["authorization"])["signed"]
        for r in iam_gateway.requests
        if r["method"] == "POST"
    )
    assert json.loads(iam_gateway.requests[2]["body"])["stream"] is True


def test_the_verifier_rejects_a_changed_body_or_another_secret(iam_gateway: FakeGateway) -> None:
    # The check above is only worth something if the server's verification can fail.
    client = cg.iam_client(iam_gateway.base_url, region=REGION, credentials=CREDS, max_retries=0)
    client.chat.completions.create(model="chat-fast", messages=[{"role": "user", "content": "hi"}])
    r = iam_gateway.requests[-1]
    url = f"http://{r['headers']['host']}{r['path']}"
    assert verify_sigv4("POST", url, r["headers"], r["body"], CREDS) is None
    assert verify_sigv4("POST", url, r["headers"], r["body"] + b" ", CREDS) == "signature mismatch"
    other = Credentials(CREDS.access_key, "another-secret", CREDS.token)
    assert verify_sigv4("POST", url, r["headers"], r["body"], other) == "signature mismatch"


def test_wrong_credentials_get_the_gateways_403(iam_gateway: FakeGateway) -> None:
    import openai

    client = cg.iam_client(
        iam_gateway.base_url, region=REGION, max_retries=0, credentials=Credentials("AKIDEXAMPLE", "not-the-secret")
    )
    with pytest.raises(openai.PermissionDeniedError):
        client.models.list()


def test_each_retry_is_signed_again() -> None:
    # The SDK retries 5xx/429; every attempt goes through the auth flow and gets its own signature.
    auth = cg.SigV4Auth(CREDS, REGION)
    request = cg.httpx.Request(
        "POST",
        "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/chat/completions",
        json={"model": "m"},
        headers={"Authorization": "Bearer sigv4"},
    )
    first = next(auth.sync_auth_flow(request))
    assert first.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert next(auth.sync_auth_flow(first)).headers["authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_region_comes_from_the_execute_api_host() -> None:
    assert cg.region_of("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1") == "eu-west-1"
    assert cg.region_of("https://abc123-vpce-0a1b2c3d.execute-api.us-east-1.amazonaws.com/prod/v1") == "us-east-1"
    assert cg.region_of("http://127.0.0.1:8080/v1") is None
    with pytest.raises(ValueError, match="Region"):
        cg.SigV4Auth(CREDS, "")


def test_cli_iam_mode_streams_the_answer(iam_gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDS.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CREDS.token)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    out = io.StringIO()
    assert cg.main(["--base-url", iam_gateway.base_url, "--auth", "iam", "--region", REGION, "hello"], out=out) == 0
    assert out.getvalue() == "streamed\n"
    assert [r["problem"] for r in iam_gateway.requests] == [None, None]  # GET /models (default model), POST


# ---------------------------------------------------------------------------------------- Cognito


class ScriptedPrompter:
    """Answers the sign-in's questions from a script and records what the person was shown."""

    def __init__(self, codes: list[str], new_password: str = "N3w-Passw0rd!x") -> None:
        self.codes = list(codes)
        self.password = new_password
        self.secrets: list[tuple[str, str]] = []
        self.asked: list[str] = []

    def new_password(self) -> str:
        self.asked.append("new_password")
        return self.password

    def attribute(self, name: str) -> str:
        self.asked.append(f"attribute:{name}")
        return "Ada"

    def show_totp_secret(self, secret: str, uri: str) -> None:
        self.secrets.append((secret, uri))

    def totp_code(self) -> str:
        self.asked.append("totp")
        return self.codes.pop(0)


CLIENT_ID = "4c8k1example0client0id00"
USER = "you@example.com"
REAL_USER = "2f1e6d3c-0000-4000-8000-1234567890ab"  # with email as the sign-in attribute, Cognito's generated name
SESSION = [f"AYABeExampleSession{i}{'x' * 40}" for i in range(5)]
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TOKENS = {
    "IdToken": ID_TOKEN,
    "AccessToken": "eyJhY2Nlc3MifQ.eyJzdWIiOiJ0In0.c2ln",
    "RefreshToken": "eyJyZWZyZXNoIn0",
    "ExpiresIn": 3600,
    "TokenType": "Bearer",
}


def _idp() -> Any:
    return boto3.client("cognito-idp", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def test_first_sign_in_sets_a_password_and_totp_then_gets_tokens() -> None:
    idp = _idp()
    stub = Stubber(idp)
    stub.add_response(
        "initiate_auth",
        {
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": SESSION[0],
            "ChallengeParameters": {
                "USER_ID_FOR_SRP": REAL_USER,
                "requiredAttributes": "[]",
                "userAttributes": json.dumps({"email": USER}),
            },
        },
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": CLIENT_ID,
            "AuthParameters": {"USERNAME": USER, "PASSWORD": "Temp-Passw0rd!x"},
        },
    )
    stub.add_response(
        "respond_to_auth_challenge",
        {
            "ChallengeName": "MFA_SETUP",
            "Session": SESSION[1],
            "ChallengeParameters": {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'},
        },
        {
            "ClientId": CLIENT_ID,
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": SESSION[0],
            "ChallengeResponses": {"USERNAME": REAL_USER, "NEW_PASSWORD": "N3w-Passw0rd!x"},
        },
    )
    stub.add_response(
        "associate_software_token", {"SecretCode": SECRET, "Session": SESSION[2]}, {"Session": SESSION[1]}
    )
    stub.add_response(
        "verify_software_token",
        {"Status": "SUCCESS", "Session": SESSION[3]},
        {"Session": SESSION[2], "UserCode": "123456", "FriendlyDeviceName": "ChatStack"},
    )
    stub.add_response(
        "respond_to_auth_challenge",
        {"AuthenticationResult": TOKENS},
        {
            "ClientId": CLIENT_ID,
            "ChallengeName": "MFA_SETUP",
            "Session": SESSION[3],
            "ChallengeResponses": {"USERNAME": REAL_USER},
        },
    )
    prompter = ScriptedPrompter(codes=["123456"])
    with stub:
        result = cg.sign_in(
            idp, client_id=CLIENT_ID, username=USER, password="Temp-Passw0rd!x", prompter=prompter, issuer="ChatStack"
        )
        stub.assert_no_pending_responses()
    assert result["IdToken"] == ID_TOKEN
    assert prompter.asked == ["new_password", "totp"]
    # The secret is shown exactly once, with an otpauth URI an authenticator app can import.
    assert prompter.secrets == [
        (SECRET, f"otpauth://totp/ChatStack:you%40example.com?secret={SECRET}&issuer=ChatStack")
    ]


def test_later_sign_in_answers_the_totp_challenge() -> None:
    idp = _idp()
    stub = Stubber(idp)
    stub.add_response(
        "initiate_auth",
        {
            "ChallengeName": "SOFTWARE_TOKEN_MFA",
            "Session": SESSION[0],
            "ChallengeParameters": {"USER_ID_FOR_SRP": REAL_USER},
        },
    )
    stub.add_response(
        "respond_to_auth_challenge",
        {"AuthenticationResult": TOKENS},
        {
            "ClientId": CLIENT_ID,
            "ChallengeName": "SOFTWARE_TOKEN_MFA",
            "Session": SESSION[0],
            "ChallengeResponses": {"USERNAME": REAL_USER, "SOFTWARE_TOKEN_MFA_CODE": "654321"},
        },
    )
    prompter = ScriptedPrompter(codes=["654321"])
    with stub:
        result = cg.sign_in(idp, client_id=CLIENT_ID, username=USER, password="Passw0rd!long", prompter=prompter)
    assert result["IdToken"] == ID_TOKEN
    assert prompter.secrets == [] and prompter.asked == ["totp"]


def test_required_attributes_are_asked_for_with_the_new_password() -> None:
    idp = _idp()
    stub = Stubber(idp)
    stub.add_response(
        "initiate_auth",
        {
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": SESSION[0],
            "ChallengeParameters": {"requiredAttributes": '["userAttributes.given_name"]'},
        },
    )
    stub.add_response(
        "respond_to_auth_challenge",
        {"AuthenticationResult": TOKENS},
        {
            "ClientId": CLIENT_ID,
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": SESSION[0],
            "ChallengeResponses": {
                "USERNAME": USER,
                "NEW_PASSWORD": "N3w-Passw0rd!x",
                "userAttributes.given_name": "Ada",
            },
        },
    )
    prompter = ScriptedPrompter(codes=[])
    with stub:
        cg.sign_in(idp, client_id=CLIENT_ID, username=USER, password="Temp-Passw0rd!x", prompter=prompter)
    assert prompter.asked == ["new_password", "attribute:given_name"]


#: ``(operation, response)`` of the stubbed Cognito calls; a ``(code, message)`` tuple is a client error.
_TOTP = ("initiate_auth", {"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": SESSION[0], "ChallengeParameters": {}})
_MFA_SETUP = (
    "initiate_auth",
    {
        "ChallengeName": "MFA_SETUP",
        "Session": SESSION[0],
        "ChallengeParameters": {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'},
    },
)


@pytest.mark.parametrize(
    ("calls", "codes", "message"),
    [
        pytest.param(
            [_TOTP, ("respond_to_auth_challenge", ("CodeMismatchException", "Invalid code received for user"))],
            ["000000"],
            "CodeMismatchException.*wait for the next one",
            id="a rejected TOTP code stops with a hint",
        ),
        pytest.param(
            [
                _MFA_SETUP,
                ("associate_software_token", {"SecretCode": SECRET, "Session": SESSION[1]}),
                ("verify_software_token", {"Status": "ERROR"}),
            ],
            ["111111"],
            "did not accept the code",
            id="an unverified TOTP setup stops",
        ),
        pytest.param(
            [("initiate_auth", {"ChallengeName": "SMS_MFA", "Session": SESSION[0], "ChallengeParameters": {}})],
            [],
            "'SMS_MFA'",
            id="an unknown challenge is named",
        ),
        pytest.param(
            [("initiate_auth", ("NotAuthorizedException", "Incorrect username or password."))],
            [],
            "NotAuthorizedException.*RESEND",
            id="a wrong password says what to check",
        ),
    ],
)
def test_sign_in_stops_with_a_clear_error(calls: list[tuple[str, Any]], codes: list[str], message: str) -> None:
    idp = _idp()
    stub = Stubber(idp)
    for operation, answer in calls:
        if isinstance(answer, tuple):
            stub.add_client_error(operation, *answer)
        else:
            stub.add_response(operation, answer)
    with stub, pytest.raises(cg.SignInError, match=message):
        cg.sign_in(idp, client_id=CLIENT_ID, username=USER, password="Passw0rd!long", prompter=ScriptedPrompter(codes))


def test_cognito_token_is_sent_as_bearer(cognito_gateway: FakeGateway) -> None:
    client = cg.cognito_client(cognito_gateway.base_url, ID_TOKEN, max_retries=0)
    stream = client.chat.completions.create(
        model="chat-fast", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content for c in stream if c.choices) == "streamed"
    assert cognito_gateway.requests[0]["headers"]["authorization"] == f"Bearer {ID_TOKEN}"


def test_cli_signs_in_then_calls(cognito_gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    idp = _idp()
    stub = Stubber(idp)
    stub.add_response(
        "initiate_auth",
        {
            "ChallengeName": "SOFTWARE_TOKEN_MFA",
            "Session": SESSION[0],
            "ChallengeParameters": {"USER_ID_FOR_SRP": REAL_USER},
        },
    )
    stub.add_response("respond_to_auth_challenge", {"AuthenticationResult": TOKENS})
    monkeypatch.setenv("GATEWAY_PASSWORD", "Passw0rd!long")
    monkeypatch.delenv("GATEWAY_ID_TOKEN", raising=False)
    out = io.StringIO()
    with stub:
        rc = cg.main(
            [
                "--base-url",
                cognito_gateway.base_url,
                "--auth",
                "cognito",
                "--client-id",
                CLIENT_ID,
                "--region",
                "us-east-1",
                "--username",
                USER,
                "--model",
                "chat-fast",
                "--no-stream",
                "hi",
            ],
            out=out,
            idp=idp,
            prompter=ScriptedPrompter(codes=["222222"]),
        )
    assert rc == 0 and out.getvalue() == "signed hello\n"


# ---------------------------------------------------------------------------------- stack outputs


def _fake_outputs(template: dict[str, Any]) -> dict[str, str]:
    """describe-stacks values for a template's output keys (what CloudFormation would resolve)."""
    values = {
        "OpenAIBaseUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1",
        "ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/",
        "UserPoolId": "eu-west-1_AbCdEf123",
        "UserPoolClientId": CLIENT_ID,
    }
    out = {}
    for key, output in template["Outputs"].items():
        value = output["Value"]
        out[key] = value if isinstance(value, str) else values.get(key, "resolved")
    return out


@pytest.mark.parametrize(("stack", "auth"), [("ChatStack", "cognito"), ("LoraStack", "iam"), ("RagStack", "iam")])
def test_targets_resolve_from_the_synthesized_outputs(synthesis: Synthesis, stack: str, auth: str) -> None:
    outputs = _fake_outputs(synthesis.templates[stack])
    cfn = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(cfn)
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack,
                    "CreationTime": "2026-12-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                }
            ]
        },
        {"StackName": stack},
    )
    with stub:
        target = cg.target_from_outputs(cg.stack_outputs(cfn, stack))
    assert target.base_url == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1"
    assert (target.auth, target.region) == (auth, "eu-west-1")
    assert (target.client_id == CLIENT_ID) == (auth == "cognito")
    aliases = outputs.get("ModelAliases", "")
    assert target.model_aliases == tuple(a for a in aliases.split(",") if a)


def test_api_url_without_openai_output_gets_v1() -> None:
    target = cg.target_from_outputs({"ApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com/prod/"})
    assert (target.base_url, target.auth, target.region) == (
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/v1",
        "iam",
        "us-east-1",
    )
    with pytest.raises(SystemExit, match="pass --base-url"):
        cg.target_from_outputs({"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:t"})


def test_script_is_executable() -> None:
    path = Path(REPO / "scripts" / "call_gateway.py")
    assert path.stat().st_mode & 0o111, "scripts/call_gateway.py must be executable (chmod +x): the README runs it so"


def test_cli_without_a_region_says_what_to_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # No Region configured: DescribeStacks cannot be sent (no network call is made), and the message names the fixes.
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    with pytest.raises(SystemExit, match="pass --region.*--base-url"):
        cg.main(["--stack", "ChatStack", "hi"])
