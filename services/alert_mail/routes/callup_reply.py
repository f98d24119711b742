"""The reply page each call-up mail links to (public, with the member's personal token):
a Japanese HTML form without script, answered by form post or JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response

from services.alert_mail import callup_replies_service as service
from services.alert_mail.domain import callup_form, callup_pages
from services.alert_mail.domain.callup_lifecycle import accepts_replies
from services.alert_mail.routes.callup_deps import SettingsDep, Token
from services.alert_mail.routes.forms import FORM, media_type, parse_json, validated
from services.alert_mail.schemas.callups import CallupReplyCreate, CallupReplyRead
from services.alert_mail.settings import Settings
from services.kit.auth import Public
from services.kit.clock import Clock
from services.kit.deps import ClockDep, SessionDep
from services.kit.errors import AppError, BadRequest, IllegalTransition, UnprocessableContent
from services.kit.openapi import PAGE_OR_PROBLEM
from services.kit.problems import validation_errors, wants_html

router = APIRouter()

_PAGE_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _page_or_problem(browser: bool, exc: AppError, html: str) -> HTMLResponse:
    """The page for a browser (`Accept: text/html`); the problem for any other client."""
    if browser:
        return _page(html, exc.status)
    raise exc


def _inline_refs(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline_refs(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(item, defs) for item in schema]
    return schema


def _reply_body_schema() -> dict[str, Any]:
    schema = CallupReplyCreate.model_json_schema()
    inlined: dict[str, Any] = _inline_refs(schema, schema.get("$defs", {}))
    return inlined


_REPLY_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _reply_body_schema()},
            FORM: {"schema": _reply_body_schema()},
        },
    }
}


@router.get(
    "/reply",
    response_class=HTMLResponse,
    responses=PAGE_OR_PROBLEM,
)
async def reply_page(
    request: Request, token: Token, session: SessionDep, settings: SettingsDep, _: Public
) -> Response:
    """The page the call-up mail links to: 無事です / けがをしています / 参集できません and
    「○分後に参集できます」, in Japanese, without script. Public, but only with the token."""
    try:
        target = await service.resolve_reply_token(session, settings, token)
    except service.ReplyLinkInvalid as exc:
        return _page_or_problem(wants_html(request), exc, callup_pages.invalid_link_page())
    view = await service.reply_page_view(session, target, token)
    if not accepts_replies(target.callup.status):
        return _page(callup_pages.closed_page(view))
    return _page(callup_pages.form_page(view))


class UnsupportedMediaType(AppError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


@router.post(
    "/reply",
    response_model=CallupReplyRead,
    status_code=201,
    openapi_extra=_REPLY_OPENAPI,
    responses={
        200: {"content": {"text/html": {}}, "description": "a form post: the confirmation page"},
        409: {"description": "the call-up is closed"},
        415: {"description": "neither JSON nor a form"},
        **PAGE_OR_PROBLEM,
    },
)
async def post_reply(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, _: Public
) -> Response:
    """A member's answer, from the reply page's form (answered with a page) or as JSON
    (answered with the reply). A later answer replaces the earlier one in the summary; the
    earlier ones stay in the history. Public, but only with the token from the mail."""
    kind = media_type(request)
    raw = await request.body()
    if kind == FORM:
        return await _reply_from_form(raw, wants_html(request), session, clock, settings)
    if kind == "application/json" or kind.endswith("+json"):
        reply = await _reply_from_json(raw, session, clock, settings)
        return Response(reply.model_dump_json(), status_code=201, media_type="application/json")
    raise UnsupportedMediaType("send application/json or application/x-www-form-urlencoded")


async def _reply_from_json(
    raw: bytes, session: AsyncSession, clock: Clock, settings: Settings
) -> CallupReplyRead:
    body = validated(CallupReplyCreate, parse_json(raw))
    target = await service.resolve_reply_token(session, settings, body.token, for_update=True)
    reply = await service.record_reply(
        session,
        target,
        status=body.status,
        arrival_minutes=body.arrival_minutes,
        comment=body.comment,
        channel="json",
        now=clock.now(),
    )
    return service.reply_read(reply)


async def _reply_from_form(
    raw: bytes, browser: bool, session: AsyncSession, clock: Clock, settings: Settings
) -> Response:
    """A form post; a browser gets pages, even for errors, any other client problems."""
    try:
        values = callup_form.parse_form(raw)
    except callup_form.FormUnreadable:
        unreadable = BadRequest("the form could not be read as UTF-8 form data")
        return _page_or_problem(browser, unreadable, callup_pages.invalid_link_page())
    token = values.get("token", "")
    try:
        target = await service.resolve_reply_token(session, settings, token, for_update=True)
    except service.ReplyLinkInvalid as exc:
        return _page_or_problem(browser, exc, callup_pages.invalid_link_page())
    view = await service.reply_page_view(session, target, token)
    if not accepts_replies(target.callup.status):
        closed = IllegalTransition(target.callup.status, "reply")
        return _page_or_problem(browser, closed, callup_pages.closed_page(view))
    shown = callup_pages.FormValues(
        status=values.get("status", ""),
        arrival_minutes=values.get("arrival_minutes", ""),
        comment=values.get("comment", ""),
    )
    try:
        body = validated(CallupReplyCreate, callup_form.form_body(values), form=True)
        reply = await service.record_reply(
            session,
            target,
            status=body.status,
            arrival_minutes=body.arrival_minutes,
            comment=body.comment,
            channel="form",
            now=clock.now(),
        )
    except RequestValidationError as exc:
        if not browser:
            raise
        errors = callup_form.japanese_errors(validation_errors(exc.errors()))
        return _page(callup_pages.form_page(view, shown, errors), 422)
    except IllegalTransition as exc:
        return _page_or_problem(browser, exc, callup_pages.closed_page(view))
    except UnprocessableContent as exc:
        errors = {"arrival_minutes": callup_form.CANNOT_COME_WITH_MINUTES}
        return _page_or_problem(browser, exc, callup_pages.form_page(view, shown, errors))
    return _page(callup_pages.done_page(view, service.shown_reply(reply)))
