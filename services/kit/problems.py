"""RFC 9457 rendering of every error a service or the gateway returns.

No stack trace or SQL text ever reaches a client: unknown errors become a 500 that names only
the request id, and the details go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import RouteContext, iter_route_contexts
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from services.kit.context import current_request_id
from services.kit.errors import AppError

log = logging.getLogger("cityhall.errors")

PROBLEM_JSON = "application/problem+json"
_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Your request parameters didn't validate"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    502: ("bad-gateway", "Upstream service failed"),
    503: ("service-unavailable", "Service unavailable"),
    504: ("gateway-timeout", "Upstream service timed out"),
}


_PAGE_MEDIA = ("text/html", "application/xhtml+xml")


def wants_html(request: Request) -> bool:
    """The client asks for a page (a browser following a mailed link): `text/html` named in
    `Accept` with a non-zero quality. `*/*` alone, or no `Accept`, gets the problem+json."""
    for item in request.headers.get("accept", "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() not in _PAGE_MEDIA:
            continue
        quality = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(quality) > 0:
                return True
        except ValueError:
            continue
    return False


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


def problem_body(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    request_id: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    default_slug, default_title = _HTTP_TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": problem_type(slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail or title or default_title,
        "instance": request_id or current_request_id(),
    }
    if extensions:
        body.update({k: v for k, v in extensions.items() if k not in body})
    return body


def problem_response(
    status: int,
    *,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, **kwargs),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_JSON,
    )


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    items = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        items.append(
            {
                "field": _field_name(loc),
                "in": str(loc[0]) if loc else "body",
                "message": str(error.get("msg", "invalid")),
                "code": str(error.get("type", "invalid")),
            }
        )
    return items


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        extensions=exc.extensions,
        headers=exc.headers,
    )


def _route_path(request: Request) -> str:
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return (path[len(root) :] or "/") if root and path.startswith(root) else path


def _routes_of_path(request: Request) -> list[RouteContext]:
    """The routes whose path template matches the request's path, whatever their method,
    keeping only the most literal ones (fewest path parameters): a literal segment names its
    own resource, so `/v1/alerts/public` is never the `{alert_id}` route's."""
    path = _route_path(request)
    matching = [
        route
        for route in iter_route_contexts(request.app.routes)
        if getattr(route, "path_regex", None) is not None and route.path_regex.match(path)
    ]
    if not matching:
        return []
    fewest = min(len(route.param_convertors) for route in matching)
    return [route for route in matching if len(route.param_convertors) == fewest]


def allowed_methods(request: Request) -> list[str]:
    """`Allow` over every route of the request's path, not only the first that matched."""
    methods = {m for route in _routes_of_path(request) for m in route.methods or ()}
    return sorted(methods)


def _method_not_allowed(request: Request) -> JSONResponse:
    allowed = allowed_methods(request)
    return problem_response(
        405,
        detail=f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}",
        headers={"Allow": ", ".join(allowed)},
        extensions={"allowed_methods": allowed},
    )


def _shadowed(request: Request) -> bool:
    """The path names a more literal route's resource than the parameter route that matched
    (`PATCH /v1/alerts/public` against `PATCH /v1/alerts/{alert_id}`)."""
    matched = request.scope.get("endpoint")
    routes = _routes_of_path(request)
    return bool(routes) and matched is not None and all(r.endpoint != matched for r in routes)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()) and _shadowed(request):
        return _method_not_allowed(request)
    errors = validation_errors(exc.errors())
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(422, detail=f"invalid input: {fields}", extensions={"errors": errors})


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, AppError):  # e.g. the body limit tripped while parsing JSON
        return await _app_error(request, exc.__cause__)
    status = exc.status_code
    if status == 405:
        return _method_not_allowed(request)
    if status == 404 and "endpoint" not in request.scope:  # no route has this path
        path = request.url.path
        return problem_response(404, detail=f"no resource at {path}", extensions={"path": path})
    detail = exc.detail if isinstance(exc.detail, str) else None
    default_title = _HTTP_TITLES.get(status, ("error", "Error"))[1]
    return problem_response(
        status,
        detail=detail if detail and detail != default_title else None,
        headers=exc.headers,
    )


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error: %s", exc)
    return problem_response(
        409, detail="the change conflicts with the current state of the resource"
    )


_UNAVAILABLE_HINTS = ("database is locked", "could not connect", "connection", "timeout")


def _database_unavailable(exc: OperationalError) -> bool:
    message = str(exc.orig).lower() if exc.orig is not None else ""
    return exc.connection_invalidated or any(hint in message for hint in _UNAVAILABLE_HINTS)


async def _operational_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError)
    if not _database_unavailable(exc):
        return await _unexpected(request, exc)
    log.warning("database unavailable: %s", exc)
    return problem_response(
        503,
        detail="the service's database is busy or unavailable; retry",
        headers={"Retry-After": "1"},
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(500, detail="an unexpected error occurred; quote the instance id")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _operational_error)
    # Other exceptions are answered by RequestContextMiddleware, which knows the request id.
