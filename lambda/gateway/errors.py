"""Gateway error type shared by every layer (validation, backends, transport).

A :class:`GatewayError` carries everything needed to render an OpenAI-shaped
error response: HTTP status, OpenAI ``type``, ``code`` and ``param``, plus an
optional ``Retry-After`` hint.  Backends raise it; transports render it.
"""

from __future__ import annotations


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


def invalid_request(message: str, *, param: str | None = None, code: str | None = None,
                    status: int = 400) -> GatewayError:
    """Shorthand for a caller error (``invalid_request_error``)."""
    return GatewayError(status, message, type="invalid_request_error", code=code, param=param)
