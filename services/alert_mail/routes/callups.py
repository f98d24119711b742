"""Staff call-up (職員参集メール): staff groups (admin), sending and closing call-ups
(publishers), summaries for the group's department, and the public reply page each mail links."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response

from services.alert_mail import callups_service as service
from services.alert_mail.domain import callup_form, callup_pages
from services.alert_mail.domain.callup_access import SENDER_ROLES
from services.alert_mail.schemas.callups import (
    CallupCreate,
    CallupList,
    CallupRead,
    CallupReplyCreate,
    CallupReplyRead,
    CallupSummary,
    MemberCreate,
    MemberList,
    MemberRead,
    RecipientList,
    StaffGroupCreate,
    StaffGroupList,
    StaffGroupRead,
    StaffGroupUpdate,
)
from services.alert_mail.settings import Settings
from services.kit.auth import Principal, Public, authenticated, mark_auth, staff
from services.kit.clock import Clock
from services.kit.deps import ClockDep, SessionDep, get_db
from services.kit.errors import AppError, Forbidden, IllegalTransition, UnprocessableContent
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit
from services.kit.problems import validation_errors

router = APIRouter(prefix="/v1/callups", tags=["callups"])

ULID = "[0-9A-HJKMNP-TV-Z]{26}"
GroupId = Annotated[str, Path(pattern=f"^grp_{ULID}$", max_length=64)]
MemberId = Annotated[str, Path(pattern=f"^mem_{ULID}$", max_length=64)]
CallupId = Annotated[str, Path(pattern=f"^cal_{ULID}$", max_length=64)]
RecipientId = Annotated[str, Path(pattern=f"^rcp_{ULID}$", max_length=64)]
Token = Annotated[str, Query(min_length=1, max_length=200, description="from the call-up mail")]


@mark_auth("staff")
async def callup_sender(request: Request) -> Principal:
    """Staff holding `emergency_publisher`, `alert_publisher` or `admin`."""
    principal = await authenticated(request)
    if principal.kind != "staff" or not principal.roles & SENDER_ROLES:
        raise Forbidden("call-ups are sent by emergency_publisher, alert_publisher or admin staff")
    return principal


async def audited_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Staff reads of personal data write their `*.viewed` audit event, so these GETs take a
    write session (a read transaction upgraded to a write is refused on a busy SQLite)."""
    async with get_db(request).session(write=True) as session:
        yield session


AuditedReadSession = Annotated[AsyncSession, Depends(audited_read_session, scope="function")]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


GroupAdmin = Annotated[Principal, staff(role="admin")]
Sender = Annotated[Principal, Depends(callup_sender)]
StaffReader = Annotated[Principal, staff()]
SettingsDep = Annotated[Settings, Depends(get_settings)]


REPLAY: dict[int | str, dict[str, Any]] = {200: {"description": "an Idempotency-Key replay"}}


# --- groups (admin) -------------------------------------------------------------------------


@router.post("/groups", response_model=StaffGroupRead, status_code=201, responses=REPLAY)
async def create_group(
    body: StaffGroupCreate,
    principal: GroupAdmin,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """A staff group that call-ups are sent to, e.g. 災害対策本部員 of 危機管理室."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    group = await service.create_group(session, body, actor=principal, now=clock.now())
    return await idem.complete(201, await service.group_read(session, group))


@router.get("/groups", response_model=StaffGroupList)
async def list_groups(
    principal: GroupAdmin,
    session: SessionDep,
    department: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StaffGroupList:
    items, next_cursor = await service.list_groups(
        session, department=department, limit=limit, cursor=cursor
    )
    return StaffGroupList(items=items, next_cursor=next_cursor)


@router.get("/groups/{group_id}", response_model=StaffGroupRead)
async def get_group(
    group_id: GroupId, principal: GroupAdmin, session: SessionDep
) -> StaffGroupRead:
    return await service.group_read(session, await service.get_group(session, group_id))


@router.patch("/groups/{group_id}", response_model=StaffGroupRead)
async def update_group(
    group_id: GroupId,
    body: StaffGroupUpdate,
    principal: GroupAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> StaffGroupRead:
    group = await service.get_group(session, group_id)
    await service.update_group(session, group, body, actor=principal, now=clock.now())
    return await service.group_read(session, group)


@router.delete("/groups/{group_id}", status_code=204)
async def delete_group(
    group_id: GroupId, principal: GroupAdmin, session: SessionDep, clock: ClockDep
) -> Response:
    """Only a group that was never called up (a call-up's history keeps its group)."""
    group = await service.get_group(session, group_id)
    await service.delete_group(session, group, actor=principal, now=clock.now())
    return Response(status_code=204)


@router.post(
    "/groups/{group_id}/members", response_model=MemberRead, status_code=201, responses=REPLAY
)
async def add_member(
    group_id: GroupId,
    body: MemberCreate,
    principal: GroupAdmin,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    if (replay := await idem.begin(body)) is not None:
        return replay
    group = await service.get_group(session, group_id)
    member = await service.add_member(session, group, body, actor=principal, now=clock.now())
    return await idem.complete(201, service.member_read(member))


@router.get("/groups/{group_id}/members", response_model=MemberList)
async def list_members(
    group_id: GroupId,
    principal: GroupAdmin,
    session: AuditedReadSession,
    clock: ClockDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MemberList:
    """Names and addresses: each read is audited (`staff_group.viewed`)."""
    group = await service.get_group(session, group_id)
    items, next_cursor = await service.list_members(
        session, group, limit=limit, cursor=cursor, actor=principal, now=clock.now()
    )
    return MemberList(items=items, next_cursor=next_cursor)


@router.delete("/groups/{group_id}/members/{member_id}", status_code=204)
async def remove_member(
    group_id: GroupId,
    member_id: MemberId,
    principal: GroupAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Earlier call-ups keep the member among their recipients."""
    group = await service.get_group(session, group_id)
    await service.remove_member(session, group, member_id, actor=principal, now=clock.now())
    return Response(status_code=204)


# --- the reply page (public, with the personal token) ---------------------------------------

_PAGE_HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


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
            "application/x-www-form-urlencoded": {"schema": _reply_body_schema()},
        },
    }
}


@router.get(
    "/reply",
    response_class=HTMLResponse,
    responses={404: {"content": {"text/html": {}}, "description": "the link is not valid"}},
)
async def reply_page(
    token: Token, session: SessionDep, settings: SettingsDep, _: Public
) -> Response:
    """The page the call-up mail links to: 無事です / けがをしています / 参集できません and
    「○分後に参集できます」, in Japanese, without script. Public, but only with the token."""
    try:
        target = await service.resolve_reply_token(session, settings, token)
    except service.ReplyLinkInvalid:
        return _page(callup_pages.invalid_link_page(), 404)
    view = await service.reply_page_view(session, target, token)
    if target.callup.status != "open":
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
    },
)
async def post_reply(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, _: Public
) -> Response:
    """A member's answer, from the reply page's form (answered with a page) or as JSON
    (answered with the reply). A later answer replaces the earlier one in the summary; the
    earlier ones stay in the history. Public, but only with the token from the mail."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if media_type == "application/x-www-form-urlencoded":
        return await _reply_from_form(raw, session, clock, settings)
    if media_type == "application/json" or media_type.endswith("+json"):
        reply = await _reply_from_json(raw, session, clock, settings)
        return Response(reply.model_dump_json(), status_code=201, media_type="application/json")
    raise UnsupportedMediaType("send application/json or application/x-www-form-urlencoded")


def _validated(data: Any) -> CallupReplyCreate:
    try:
        return CallupReplyCreate.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def _reply_from_json(
    raw: bytes, session: AsyncSession, clock: Clock, settings: Settings
) -> CallupReplyRead:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise UnprocessableContent("the body is not valid JSON", field="body") from None
    body = _validated(data)
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
    raw: bytes, session: AsyncSession, clock: Clock, settings: Settings
) -> Response:
    try:
        values = callup_form.parse_form(raw)
    except callup_form.FormUnreadable:
        return _page(callup_pages.invalid_link_page(), 400)
    token = values.get("token", "")
    try:
        target = await service.resolve_reply_token(session, settings, token, for_update=True)
    except service.ReplyLinkInvalid:
        return _page(callup_pages.invalid_link_page(), 404)
    view = await service.reply_page_view(session, target, token)
    if target.callup.status != "open":
        return _page(callup_pages.closed_page(view), 409)
    shown = callup_pages.FormValues(
        status=values.get("status", ""),
        arrival_minutes=values.get("arrival_minutes", ""),
        comment=values.get("comment", ""),
    )
    try:
        body = _validated(callup_form.form_body(values))
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
        errors = callup_form.japanese_errors(validation_errors(exc.errors()))
        return _page(callup_pages.form_page(view, shown, errors), 422)
    except IllegalTransition:
        return _page(callup_pages.closed_page(view), 409)
    except UnprocessableContent:
        errors = {"arrival_minutes": callup_form.CANNOT_COME_WITH_MINUTES}
        return _page(callup_pages.form_page(view, shown, errors), 422)
    return _page(callup_pages.done_page(view, service.shown_reply(reply)))


# --- call-ups -------------------------------------------------------------------------------


@router.post("", response_model=CallupRead, status_code=201, responses=REPLAY)
async def create_callup(
    body: CallupCreate,
    principal: Sender,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    idem: Idempotency,
) -> Response:
    """Mails every member of the group at emergency priority, each with a personal reply link.
    `emergency_publisher` calls up any group, `alert_publisher` the groups of their own
    department."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    callup = await service.create_callup(session, settings, body, actor=principal, now=clock.now())
    return await idem.complete(201, await service.callup_read(session, callup))


@router.get("", response_model=CallupList)
async def list_callups(
    principal: StaffReader,
    session: SessionDep,
    status: Literal["open", "closed"] | None = None,
    group_id: Annotated[str | None, Query(pattern=f"^grp_{ULID}$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CallupList:
    """Newest first: the call-ups of the caller's department and those they sent."""
    items, next_cursor = await service.list_callups(
        session, principal, status=status, group_id=group_id, limit=limit, cursor=cursor
    )
    return CallupList(items=items, next_cursor=next_cursor)


@router.get("/{callup_id}", response_model=CallupRead)
async def get_callup(
    callup_id: CallupId, principal: StaffReader, session: AuditedReadSession, clock: ClockDep
) -> CallupRead:
    callup = await service.get_visible_callup(session, callup_id, principal)
    await service.record_view(session, callup, actor=principal, now=clock.now(), view="callup")
    return await service.callup_read(session, callup)


@router.get("/{callup_id}/summary", response_model=CallupSummary)
async def get_summary(
    callup_id: CallupId, principal: StaffReader, session: AuditedReadSession, clock: ClockDep
) -> CallupSummary:
    """Latest answer per member: counts per status, who has not answered, arrival times in
    buckets (≤30 / ≤60 / ≤120 / >120 minutes) and expected staff per hour (JST)."""
    callup = await service.get_visible_callup(session, callup_id, principal)
    await service.record_view(session, callup, actor=principal, now=clock.now(), view="summary")
    return await service.summary(session, callup)


@router.get("/{callup_id}/recipients", response_model=RecipientList)
async def list_recipients(
    callup_id: CallupId,
    principal: StaffReader,
    session: AuditedReadSession,
    clock: ClockDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> RecipientList:
    """Each member asked, their mail's delivery status and their latest answer."""
    callup = await service.get_visible_callup(session, callup_id, principal)
    await service.record_view(session, callup, actor=principal, now=clock.now(), view="recipients")
    items, next_cursor = await service.list_recipients(session, callup, limit=limit, cursor=cursor)
    return RecipientList(items=items, next_cursor=next_cursor)


@router.post("/{callup_id}/close", response_model=CallupRead)
async def close_callup(
    callup_id: CallupId, principal: Sender, session: SessionDep, clock: ClockDep
) -> CallupRead:
    """Stops collecting answers (open → closed); later answers are refused with 409."""
    callup = await service.get_visible_callup(session, callup_id, principal, for_update=True)
    await service.close_callup(session, callup, actor=principal, now=clock.now())
    return await service.callup_read(session, callup)


@router.post("/{callup_id}/recipients/{recipient_id}/resend", status_code=202)
async def resend_link(
    callup_id: CallupId,
    recipient_id: RecipientId,
    principal: Sender,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Mails the member a new reply link; the earlier link stops working."""
    callup = await service.get_visible_callup(session, callup_id, principal, for_update=True)
    await service.resend(session, settings, callup, recipient_id, actor=principal, now=clock.now())
    return Response(status_code=202)
