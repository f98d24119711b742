"""payments_mock's answers, mapped to the kit's error tree.

A 4xx that is the calling service's own request (bad amount, unknown payment, illegal
transition, key reused) keeps its meaning and its `errors`; what the service cannot fix by
changing its request (the provider or the gateway down, 5xx, timeouts, rate limits) is a
`PaymentsUnavailable`, which callers may retry; a refusal of the service's credentials is a
`PaymentsMisconfigured`, a 502 that retrying will not cure."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from services.kit.errors import (
    AppError,
    BadGateway,
    Conflict,
    IllegalTransition,
    NotFound,
    ServiceUnavailable,
    UnprocessableContent,
)

PROVIDER = "payments_mock"


class PaymentsUnavailable(ServiceUnavailable):
    """Temporary: the provider (or the way to it) failed; the same call may succeed later."""

    slug = "payments-unavailable"
    title = "The payment provider is unavailable"
    retryable: ClassVar[bool] = True

    def __init__(self, detail: str, /, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)


class PaymentsMisconfigured(BadGateway):
    """The provider refused this service's credentials or scopes (a deployment problem)."""

    slug = "payments-misconfigured"
    title = "The payment provider refused this service"
    retryable: ClassVar[bool] = False


class PaymentRefused(UnprocessableContent):
    """The provider refused the request's content (amount, method, key reused ...)."""

    slug = "payment-refused"
    title = "The payment provider refused the request"


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else None


def error_for(response: httpx.Response, action: str) -> AppError:
    """The AppError for a non-2xx answer of payments_mock (or of the gateway in front of it)."""
    status = response.status_code
    problem = _problem(response)
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    message = f"{PROVIDER} refused to {action}: {detail}"
    slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
    if status == 404:
        return NotFound(message)
    if status == 409:
        if "current_state" in problem and "transition" in problem:
            return IllegalTransition(str(problem["current_state"]), str(problem["transition"]))
        conflict = Conflict(message, upstream=slug or None)
        if (after := _retry_after(response)) is not None:
            conflict.headers["Retry-After"] = str(after)
        return conflict
    if status in (400, 413, 422):
        extensions = {k: problem[k] for k in ("errors", "refundable") if k in problem}
        return PaymentRefused(message, upstream=slug or None, **extensions)
    if status in (401, 403):
        return PaymentsMisconfigured(message)
    if status == 429 or status >= 500:
        return PaymentsUnavailable(message, retry_after=_retry_after(response))
    return PaymentsMisconfigured(f"{PROVIDER} answered {status} to {action}")


def unreachable(exc: Exception, action: str) -> PaymentsUnavailable:
    reason = type(exc).__name__ if isinstance(exc, httpx.HTTPError) else str(exc)
    return PaymentsUnavailable(f"{PROVIDER} could not be reached to {action} ({reason})")
