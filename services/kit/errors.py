"""The error tree every service and the gateway raise; rendered as RFC 9457 problems.

Plain Python on purpose: domain code raises these without importing any web framework.
The HTTP rendering lives in `services.kit.problems`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """An error a client is meant to see. `slug` names the problem type (`/problems/<slug>`)."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(self, detail: str | None = None, /, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions: dict[str, Any] = extensions
        self.headers: dict[str, str] = {}


class BadRequest(AppError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class Unauthorized(AppError):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str | None = None, /, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["WWW-Authenticate"] = 'Bearer realm="cityhall"'


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class IllegalTransition(Conflict):
    """A state machine refused a transition; the problem names the current state."""

    slug = "illegal-transition"
    title = "Illegal state transition"

    def __init__(self, current_state: str, transition: str, /, **extensions: Any) -> None:
        super().__init__(
            f"cannot {transition} when the state is {current_state}",
            current_state=current_state,
            transition=transition,
            **extensions,
        )
        self.current_state = current_state
        self.transition = transition


class Gone(AppError):
    status = 410
    slug = "gone"
    title = "Gone"


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnprocessableContent(AppError):
    """Semantically invalid input. `errors` lists `{"field": ..., "message": ...}` items."""

    status = 422
    slug = "validation-error"
    title = "Your request parameters didn't validate"

    def __init__(
        self, detail: str | None = None, /, *, field: str | None = None, **extensions: Any
    ) -> None:
        if field is not None:
            extensions.setdefault("errors", [{"field": field, "message": detail or self.title}])
        super().__init__(detail, **extensions)


class TooManyRequests(AppError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None, /, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["Retry-After"] = str(retry_after)


class BadGateway(AppError):
    status = 502
    slug = "bad-gateway"
    title = "Upstream service failed"


class ServiceUnavailable(AppError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


class GatewayTimeout(AppError):
    status = 504
    slug = "gateway-timeout"
    title = "Upstream service timed out"
