"""RFC 9457 rendering of every error a service or the gateway returns.

No stack trace or SQL text ever reaches a client: unknown errors become a 500 that names only
the request id, and the details go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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


def _line_and_column(document: Any, position: int) -> tuple[int, int]:
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else str(document)
    before = text[:position]
    line = before.count("\n") + 1
    return line, position - (before.rfind("\n") + 1) + 1


def _malformed_json(exc: RequestValidationError) -> JSONResponse | None:
    """400 naming where the JSON broke (line and column, 1-based), not a character index."""
    for error in exc.errors():
        if error.get("type") != "json_invalid":
            continue
        loc = tuple(error.get("loc", ()))
        position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
        line, column = _line_and_column(exc.body, position)
        reason = str((error.get("ctx") or {}).get("error") or "invalid JSON")
        message = f"{reason} at line {line}, column {column}"
        return problem_response(
            400,
            slug="malformed-json",
            title="Malformed JSON",
            detail=f"the request body is not valid JSON: {message}",
            extensions={
                "errors": [
                    {
                        "field": "body",
                        "in": "body",
                        "message": message,
                        "code": "json_invalid",
                        "line": line,
                        "column": column,
                    }
                ]
            },
        )
    return None


def _json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _unsupported_media_type(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """A JSON endpoint sent a form, text or no content type at all: 415, not a 422 on `body`."""
    route = request.scope.get("route")
    body_field = route.body_field if isinstance(route, APIRoute) else None
    if body_field is None or isinstance(body_field.field_info, params.Form):
        return None
    if not any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors()):
        return None
    content_type = request.headers.get("content-type", "")
    if _json_media_type(content_type):
        return None
    if not content_type and not exc.body:
        return None  # no body at all: the 422 says which fields are missing
    given = content_type.split(";", 1)[0].strip() or "no Content-Type"
    return problem_response(
        415,
        detail=f"this endpoint takes a JSON body (Content-Type: application/json), not {given}",
        headers={"Accept-Post": "application/json"} if request.method == "POST" else None,
        extensions={"accepted": ["application/json"]},
    )


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()) and _shadowed(request):
        return _method_not_allowed(request)
    refused = _malformed_json(exc) or _unsupported_media_type(request, exc)
    if refused is not None:
        return refused
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


async def _pool_timeout(_request: Request, exc: Exception) -> JSONResponse:
    """Every pooled connection stayed busy for the pool's whole wait: more requests at once
    than the database keeps up with. An overload to come back from, not a server fault."""
    log.warning("database pool exhausted: %s", exc)
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
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    # Other exceptions are answered by RequestContextMiddleware, which knows the request id.
