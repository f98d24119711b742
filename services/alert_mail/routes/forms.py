"""HTTP plumbing of the routes that take a JSON body or an HTML form (sign-up, confirm, manage,
unsubscribe, the call-up reply): the media type, reading a form (URL-encoded or multipart, as
RFC 8058 one-click senders use), validating a body into a model with the usual 422, and
answering with a hardened HTML page."""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ValidationError

from services.kit.errors import AppError, BadRequest
from services.kit.problems import wants_html
from services.kit.schemas import FORM_INPUT

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
MAX_FIELDS = 200

M = TypeVar("M", bound=BaseModel)
Form = dict[str, list[str]]

# Tokens travel in these pages' URLs: no cache may keep them (no referrer, no framing and
# nosniff come from kit.security_headers, on every page).
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def page(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=_PAGE_HEADERS)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_form(request: Request) -> bool:
    return media_type(request) in (FORM, MULTIPART)


def page_or_problem(request: Request, exc: Exception, html: str, status: int) -> HTMLResponse:
    """A page for a browser (`Accept: text/html`); for every other client the error itself,
    raised as the RFC 9457 problem (a pydantic error as the usual 422 naming the fields)."""
    if wants_html(request):
        return page(html, status)
    if isinstance(exc, ValidationError):
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    raise exc


def _multipart(content_type: str, body: bytes) -> Form:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not parsed.is_multipart():
        raise BadRequest("the multipart form could not be read")
    form: Form = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        value = payload.decode("utf-8") if isinstance(payload, bytes) else ""
        form.setdefault(name, []).append(value)
    return form


async def read_form(request: Request) -> Form:
    """Field name → values, for URL-encoded and multipart bodies (no files expected)."""
    body = await request.body()
    try:
        if media_type(request) == MULTIPART:
            form = _multipart(request.headers.get("content-type", ""), body)
        else:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("the form is not valid UTF-8 form data") from exc
    if any("\x00" in v for values in form.values() for v in values):
        raise BadRequest("NUL bytes are not allowed in a form")
    return form


def first(form: Form, name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def validated(model: type[M], data: Any, *, form: bool = False) -> M:
    """`data` as `model`; invalid data is the usual 422 naming the body's fields. A form's
    values are strings, so numbers are read from them (`form=True`); JSON's are not."""
    try:
        return model.model_validate(data, context=FORM_INPUT if form else None)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc


async def read_json(request: Request, model: type[M]) -> M:
    """The body as `model`; a broken or invalid body is the usual 422 naming the fields."""
    body = await request.body()
    return validated(model, parse_json(body))


def parse_json(body: bytes) -> Any:
    """The decoded body; malformed JSON is the kit's 400 naming the line and column."""
    try:
        return json.loads(body or b"null")
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        raise RequestValidationError([{**error, "ctx": {"error": exc.msg}}], body=exc.doc) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        error = {"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error"}
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
        raise RequestValidationError([{**error, "ctx": {"error": reason}}], body=b"") from exc


def invalid_fields(exc: ValidationError | AppError) -> list[str]:
    """The top-level fields a form page should point at (`categories[2]` → `categories`)."""
    if isinstance(exc, ValidationError):
        names = [str(e["loc"][0]) if e["loc"] else "form" for e in exc.errors()]
    else:
        errors = exc.extensions.get("errors")
        items = errors if isinstance(errors, list) else []
        names = [str(e.get("field", "form")) for e in items if isinstance(e, dict)] or ["form"]
    return list(dict.fromkeys(n.split("[")[0].split(".")[0] for n in names))


def json_body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body taken as JSON or as an HTML form."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                FORM: {"schema": schema},
            },
        }
    }
