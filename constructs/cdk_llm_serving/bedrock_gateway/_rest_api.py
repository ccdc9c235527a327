"""The gateway's REST API pieces: OpenAI-shaped gateway responses, the access-log format, method
authorization (Cognito pool and authorizer) and the three routes. Builders create their constructs under
``scope`` (the gateway) or the API with the construct IDs the gateway has always used."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from .aliases import GatewayLimits
from .auth import GatewayAuth, GatewayAuthMode


def _error_template(error_type: str, code: str) -> dict[str, str]:
    """API Gateway gateway-response body in OpenAI's error shape."""
    body = f'{{"error":{{"message":$context.error.messageString,"type":"{error_type}","param":null,"code":"{code}"}}}}'
    return {"application/json": body}


#: With IAM auth, API Gateway's MISSING_AUTHENTICATION_TOKEN means "unsigned request" as often as "unknown route".
_IAM_MISSING_TOKEN_MESSAGE = (
    "Missing authentication token: this API requires requests signed with AWS SigV4 (service execute-api), "
    "or the method and path do not exist (POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models, "
    "GET /v1/models/{model}, GET /health)"
)


def _iam_missing_token_template() -> dict[str, str]:
    body = json.dumps(
        {
            "error": {
                "message": _IAM_MISSING_TOKEN_MESSAGE,
                "type": "invalid_request_error",
                "param": None,
                "code": "missing_authentication_token",
            }
        },
        separators=(",", ":"),
    )
    return {"application/json": body}


# Gateway responses API Gateway produces itself (before the Lambda runs), reshaped for OpenAI clients.
# MISSING_AUTHENTICATION_TOKEN is added per auth mode (missing_token_response).
_GATEWAY_RESPONSES: tuple[tuple[str, apigw.ResponseType, str | None, str, str], ...] = (
    ("BadRequestBody", apigw.ResponseType.BAD_REQUEST_BODY, "400", "invalid_request_error", "invalid_request_body"),
    ("Unauthorized", apigw.ResponseType.UNAUTHORIZED, "401", "invalid_request_error", "invalid_api_key"),
    ("AccessDenied", apigw.ResponseType.ACCESS_DENIED, "403", "invalid_request_error", "access_denied"),
    ("Throttled", apigw.ResponseType.THROTTLED, "429", "rate_limit_exceeded", "rate_limit_exceeded"),
    ("QuotaExceeded", apigw.ResponseType.QUOTA_EXCEEDED, "429", "rate_limit_exceeded", "quota_exceeded"),
    ("RequestTooLarge", apigw.ResponseType.REQUEST_TOO_LARGE, "413", "invalid_request_error", "request_too_large"),
    ("WafFiltered", apigw.ResponseType.WAF_FILTERED, "403", "invalid_request_error", "request_blocked"),
    ("IntegrationTimeout", apigw.ResponseType.INTEGRATION_TIMEOUT, "504", "timeout", "timeout"),
    ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, None, "invalid_request_error", "invalid_request"),
    ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, None, "api_error", "upstream_error"),
)


def missing_token_response(mode: GatewayAuthMode) -> tuple[str, dict[str, str], str]:
    """(status, templates, code) of MISSING_AUTHENTICATION_TOKEN: an unknown route (404) unless IAM auth
    makes it ambiguous."""
    if mode is GatewayAuthMode.IAM:
        return "403", _iam_missing_token_template(), "missing_authentication_token"
    return "404", _error_template("invalid_request_error", "not_found"), "not_found"


def add_gateway_responses(api: apigw.RestApi, auth_mode: GatewayAuthMode, cors_origins: Sequence[str]) -> str:
    """The OpenAI-shaped gateway responses; returns the error code of MISSING_AUTHENTICATION_TOKEN.

    With one CORS origin (or ``*``) they carry ``Access-Control-Allow-Origin`` so browsers can read them; a gateway
    response has static headers, so with several origins they have none (the function's responses do)."""
    cors = {"Access-Control-Allow-Origin": f"'{cors_origins[0]}'"} if len(cors_origins) == 1 else {}
    for rid, rtype, status, etype, code in _GATEWAY_RESPONSES:
        headers = {**cors, **({"Retry-After": "'1'"} if status == "429" else {})}
        api.add_gateway_response(
            rid,
            type=rtype,
            status_code=status,
            templates=_error_template(etype, code),
            response_headers=headers or None,
        )
    missing_status, missing_templates, missing_code = missing_token_response(auth_mode)
    api.add_gateway_response(
        "MissingAuthToken",
        type=apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        status_code=missing_status,
        templates=missing_templates,
        response_headers=cors or None,
    )
    return missing_code


#: Request headers a browser may send: auth, JSON bodies, SigV4 (IAM auth) and the OpenAI SDKs' telemetry and
#: retry headers (``X-Stainless-*``: openai-python ``_base_client.py`` platform headers, ``_client.py``
#: ``X-Stainless-Async``, retry count and read timeout; openai-node sends ``x-stainless-timeout``).
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Async",
    "X-Stainless-Retry-Count",
    "X-Stainless-Read-Timeout",
    "X-Stainless-Timeout",
)


def cors_origin_problems(origins: Sequence[str]) -> list[str]:
    """Problems of ``cors_allowed_origins``: ``*`` alone, or origins ``https://host[:port]`` (a browser compares
    ``Access-Control-Allow-Origin`` with its serialized origin: scheme, host, optional port, no path)."""
    out = [
        f"cors_allowed_origins: {o!r} must be an origin like 'https://app.example.com' or 'http://localhost:3000'"
        " (scheme, host, optional port; no path or trailing '/'), or '*' alone"
        for o in origins
        if not isinstance(o, str) or (o != "*" and not _ORIGIN_RE.match(o))
    ]
    if "*" in origins and len(origins) > 1:
        out.append(
            f"cors_allowed_origins: '*' allows every origin and cannot be combined with others, got {list(origins)!r}"
        )
    if isinstance(origins, (list, tuple)) and len(origins) == 0:
        out.append("cors_allowed_origins must name at least one origin (or be None for no CORS)")
    return out


_ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")


def access_log_format() -> apigw.AccessLogFormat:
    """One JSON line per request: who called, what, the status and the latencies (never the body)."""
    return apigw.AccessLogFormat.custom(
        json.dumps(
            {
                "requestId": "$context.requestId",
                "ip": "$context.identity.sourceIp",
                "caller": "$context.identity.caller",
                "user": "$context.authorizer.claims.sub",
                "requestTime": "$context.requestTime",
                "httpMethod": "$context.httpMethod",
                "resourcePath": "$context.resourcePath",
                "status": "$context.status",
                "protocol": "$context.protocol",
                "responseLength": "$context.responseLength",
                "integrationLatency": "$context.integrationLatency",
                "responseLatency": "$context.responseLatency",
                "wafStatus": "$context.waf.status",
                "error": "$context.error.message",
            },
            separators=(",", ":"),
        )
    )


@dataclass(frozen=True)
class MethodAuth:
    """How the model routes are authorized, and the Cognito pool and client behind it (if any)."""

    options: dict[str, Any]
    user_pool: cognito.IUserPool | None = None
    user_pool_client: cognito.UserPoolClient | None = None


def method_auth(scope: Construct, auth: GatewayAuth) -> MethodAuth:
    """Authorization of the model routes; for Cognito without a pool, the pool and app client are created."""
    if auth.mode is GatewayAuthMode.IAM:
        return MethodAuth({"authorization_type": apigw.AuthorizationType.IAM})
    if auth.mode is GatewayAuthMode.API_KEYS:  # the function authenticates the key (see _governance)
        return MethodAuth({"authorization_type": apigw.AuthorizationType.NONE})
    if auth.mode is GatewayAuthMode.NONE:
        cdk.Annotations.of(scope).add_warning_v2(
            "cdk-llm-serving:gateway-unauthenticated",
            "BedrockGatewayApi is deployed WITHOUT authentication (GatewayAuth.none_for_development()): "
            "anyone with the URL can spend your Bedrock budget. Use only for short-lived development stacks.",
        )
        return MethodAuth({"authorization_type": apigw.AuthorizationType.NONE})
    pool = auth.user_pool
    client: cognito.UserPoolClient | None = None
    if pool is None:
        pool, client = _user_pool(scope)
    authorizer = apigw.CognitoUserPoolsAuthorizer(
        scope, "Authorizer", cognito_user_pools=[pool], results_cache_ttl=cdk.Duration.minutes(5)
    )
    return MethodAuth(
        {"authorization_type": apigw.AuthorizationType.COGNITO, "authorizer": authorizer},
        user_pool=pool,
        user_pool_client=client,
    )


def _user_pool(scope: Construct) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
    """A pool without self sign-up (TOTP MFA required, 12+ character passwords) and an app client for the
    SRP and password flows."""
    pool = cognito.UserPool(
        scope,
        "UserPool",
        self_sign_up_enabled=False,
        sign_in_aliases=cognito.SignInAliases(email=True),
        password_policy=cognito.PasswordPolicy(
            min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True, require_symbols=True
        ),
        mfa=cognito.Mfa.REQUIRED,
        mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        feature_plan=cognito.FeaturePlan.ESSENTIALS,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    client = pool.add_client(
        "Client",
        auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
        generate_secret=False,
        prevent_user_existence_errors=True,
        # No hosted UI or OAuth flows: callers sign in with SRP or the password flow and send the ID token.
        # (CDK would otherwise enable the implicit and code grants with an example.com callback.)
        disable_o_auth=True,
        id_token_validity=cdk.Duration.hours(1),
        access_token_validity=cdk.Duration.hours(1),
    )
    return pool, client


@dataclass(frozen=True)
class Routes:
    """The API's methods."""

    chat_completions: apigw.Method
    embeddings: apigw.Method
    models: apigw.Method
    model: apigw.Method
    health: apigw.Method
    preflights: tuple[apigw.Method, ...] = ()
    """The CORS ``OPTIONS`` methods of the model routes (empty without ``cors_allowed_origins``)."""


#: Most inputs of one ``POST /v1/embeddings`` request (the runtime's limit, Cohere Embed's ``texts`` maximum).
MAX_EMBEDDING_INPUTS = 96


def _chat_request_model(api: apigw.RestApi, limits: GatewayLimits) -> apigw.Model:
    """The request body API Gateway checks before the function runs: a model name and 1 to max_messages messages.

    Deliberately permissive beyond that (no ``additionalProperties: false``, no schema for a message): tools,
    ``response_format``, image content parts and tool messages are checked by the function, which answers in
    OpenAI's error shape."""
    return api.add_model(
        "ChatCompletionRequest",
        content_type="application/json",
        schema=apigw.JsonSchema(
            schema=apigw.JsonSchemaVersion.DRAFT4,
            title="ChatCompletionRequest",
            type=apigw.JsonSchemaType.OBJECT,
            required=["model", "messages"],
            properties={
                "model": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=256),
                "messages": apigw.JsonSchema(
                    type=apigw.JsonSchemaType.ARRAY, min_items=1, max_items=limits.max_messages
                ),
                "stream": apigw.JsonSchema(type=apigw.JsonSchemaType.BOOLEAN),
            },
        ),
    )


def _embeddings_request_model(api: apigw.RestApi) -> apigw.Model:
    """The ``POST /v1/embeddings`` body API Gateway checks: a model name and one string or up to 96 inputs
    (the function checks each input and answers emptiness, ranges and token arrays in OpenAI's error shape)."""
    string = apigw.JsonSchemaType.STRING
    return api.add_model(
        "EmbeddingsRequest",
        content_type="application/json",
        schema=apigw.JsonSchema(
            schema=apigw.JsonSchemaVersion.DRAFT4,
            title="EmbeddingsRequest",
            type=apigw.JsonSchemaType.OBJECT,
            required=["model", "input"],
            properties={
                "model": apigw.JsonSchema(type=string, min_length=1, max_length=256),
                "input": apigw.JsonSchema(type=[string, apigw.JsonSchemaType.ARRAY], max_items=MAX_EMBEDDING_INPUTS),
                "dimensions": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER),
                "encoding_format": apigw.JsonSchema(type=string, enum=["float", "base64"]),
                "input_type": apigw.JsonSchema(type=string),
                "user": apigw.JsonSchema(type=string),
            },
        ),
    )


def add_routes(
    api: apigw.RestApi,
    integration: apigw.Integration,
    limits: GatewayLimits,
    method_options: dict[str, Any],
    cors_origins: Sequence[str] = (),
) -> Routes:
    """``POST /v1/chat/completions`` and ``POST /v1/embeddings`` (bodies checked against small schemas),
    ``GET /v1/models``, ``GET /v1/models/{model}`` and the unauthenticated mock ``GET /health``; with
    ``cors_origins``, a CORS preflight (``OPTIONS``, mock integration, no authorization) on each model route."""
    chat_request_model = _chat_request_model(api, limits)
    embeddings_request_model = _embeddings_request_model(api)
    validator = api.add_request_validator(
        "RequestValidator", validate_request_body=True, validate_request_parameters=True
    )
    v1 = api.root.add_resource("v1")
    chat = (
        v1.add_resource("chat")
        .add_resource("completions")
        .add_method(
            "POST",
            integration,
            request_models={"application/json": chat_request_model},
            request_validator=validator,
            **method_options,
        )
    )
    models_resource = v1.add_resource("models")
    models = models_resource.add_method("GET", integration, request_validator=validator, **method_options)
    model = models_resource.add_resource("{model}").add_method(
        "GET",
        integration,
        request_parameters={"method.request.path.model": True},
        request_validator=validator,
        **method_options,
    )
    embeddings = v1.add_resource("embeddings").add_method(
        "POST",
        integration,
        request_models={"application/json": embeddings_request_model},
        request_validator=validator,
        **method_options,
    )
    health = api.root.add_resource("health").add_method(
        "GET",
        apigw.MockIntegration(
            request_templates={"application/json": '{"statusCode": 200}'},
            integration_responses=[
                apigw.IntegrationResponse(status_code="200", response_templates={"application/json": '{"status":"ok"}'})
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
        authorization_type=apigw.AuthorizationType.NONE,
        request_validator=validator,
    )
    preflights = tuple(
        method.resource.add_cors_preflight(
            allow_origins=list(cors_origins),
            allow_methods=[method.http_method],
            allow_headers=list(CORS_ALLOW_HEADERS),
            max_age=cdk.Duration.hours(1),
        )
        for method in (chat, embeddings, models, model)
        if cors_origins
    )
    return Routes(
        chat_completions=chat, embeddings=embeddings, models=models, model=model, health=health, preflights=preflights
    )
