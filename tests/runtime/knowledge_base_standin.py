"""A local stand-in for Bedrock Knowledge Bases ``Retrieve`` (bedrock-agent-runtime, loopback only).

Speaks the real REST-JSON wire protocol, so the gateway's unmodified boto3
client can talk to it via ``AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME``:

* ``POST /knowledgebases/{knowledgeBaseId}/retrieve`` -> ``{"retrievalResults": [...]}``,
  at most ``retrievalConfiguration.vectorSearchConfiguration.numberOfResults`` of them;
* errors: HTTP status + ``x-amzn-ErrorType`` header + ``{"message": ...}`` body.

Tests script behaviours with :meth:`KnowledgeBaseStandIn.script`; every request
is recorded in :attr:`KnowledgeBaseStandIn.requests`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from standin_common import ScriptedStandIn, StandInHandler

#: HTTP status of each Retrieve error (from the service model).
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "BadGatewayException": 502,
    "ConflictException": 409,
    "DependencyFailedException": 424,
    "InternalServerException": 500,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 400,
    "ThrottlingException": 429,
    "ValidationException": 400,
}


def s3_result(text: str, uri: str, score: float) -> dict:
    """One ``KnowledgeBaseRetrievalResult`` from an S3 data source."""
    return {
        "content": {"type": "TEXT", "text": text},
        "location": {"type": "S3", "s3Location": {"uri": uri}},
        "score": score,
        "metadata": {
            "x-amz-bedrock-kb-source-uri": uri,
            "x-amz-bedrock-kb-chunk-id": "1%3A0%3Achunk",
            "x-amz-bedrock-kb-data-source-id": "DS12345678",
        },
    }


def default_results() -> list[dict]:
    return [
        s3_result("Returns are accepted within 30 days of delivery.", "s3://docs/returns.pdf", 0.83),
        s3_result("Refunds are paid to the original payment method.", "s3://docs/refunds.md", 0.61),
    ]


@dataclass
class Behaviour:
    """What the stand-in does for one Retrieve call (``error``: answer with this exception)."""

    results: list[dict] = field(default_factory=default_results)
    error: str | None = None
    error_message: str = "scripted error"
    delay: float = 0.0


@dataclass
class Received:
    """One Retrieve request as received by the stand-in."""

    knowledge_base_id: str
    body: dict
    headers: dict


class _Handler(StandInHandler):
    standin: KnowledgeBaseStandIn
    prefix = "knowledgebases"
    operations = ("retrieve",)
    error_status = ERROR_STATUS

    def received(self, operation: str, name: str, body: dict) -> Received:
        return Received(name, body, dict(self.headers))

    def respond(self, received: Received, behaviour: Behaviour) -> None:
        config = received.body.get("retrievalConfiguration", {}).get("vectorSearchConfiguration", {})
        self.send_json({"retrievalResults": behaviour.results[: config.get("numberOfResults", 5)]})


class KnowledgeBaseStandIn(ScriptedStandIn):
    """A scriptable bedrock-agent-runtime Retrieve server on 127.0.0.1 (ephemeral port)."""

    handler = _Handler
    behaviour = Behaviour
    name = "knowledge-base-standin"
