"""Gateway error type shared by every layer (validation, backends, transport).

A :class:`GatewayError` carries everything needed to render an OpenAI-shaped
error response: HTTP status, OpenAI ``type``, ``code`` and ``param``, plus an
optional ``Retry-After`` hint.  Backends raise it; transports render it.
"""

from __future__ import annotations

#: Error codes that mean the deployment cannot use its configured backend (wrong or unavailable model ID,
#: missing model access or Marketplace subscription, IAM, unknown endpoint or knowledge base): every request
#: to the alias fails until the deployment is fixed.  Counted in the ``ModelConfigErrors`` metric.
DEPLOYMENT_ERROR_CODES = frozenset(
    {
        "upstream_access_denied",
        "upstream_model_not_found",
        "upstream_knowledge_base_not_found",
    }
)


class GatewayError(Exception):
    """An error that maps onto an OpenAI-compatible error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
        metric_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after
        # Name recorded in the ErrorType metric dimension/log field.
        self.metric_type = metric_type or code or type

    @property
    def is_deployment_problem(self) -> bool:
        """Whether the error means the deployment, not the request, must change."""
        return self.code in DEPLOYMENT_ERROR_CODES

    def to_dict(self) -> dict:
        """Return the OpenAI error envelope ``{"error": {...}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"GatewayError({self.status}, {self.type!r}, {self.code!r}, {self.message!r})"


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> GatewayError:
    """Shorthand for a caller error (``invalid_request_error``)."""
    return GatewayError(status, message, type="invalid_request_error", code=code, param=param)
