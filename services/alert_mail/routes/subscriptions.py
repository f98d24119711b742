"""Subscriptions: sign-up (JSON or the sign-up page's form), double opt-in confirmation,
personal manage / unsubscribe links (RFC 8058 one-click), a citizen's own subscriptions,
counts for staff, and the QR code that opens the sign-up page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail import subscription_reads as reads
from services.alert_mail import subscriptions_service as service
from services.alert_mail.domain import subscription_pages as pages
from services.alert_mail.domain.subscription_qr import (
    MAX_SCALE,
    MIN_SCALE,
    qr_png,
    qr_svg,
    signup_url,
)
from services.alert_mail.domain.subscription_rules import (
    MANAGE_PURPOSE,
    UNSUBSCRIBE_PURPOSE,
    LinkExpired,
    LinkInvalid,
    SubscriptionState,
)
from services.alert_mail.domain.subscription_texts import field_errors
from services.alert_mail.models import Subscription
from services.alert_mail.routes.forms import (
    first,
    invalid_fields,
    is_form,
    json_body_schema,
    page,
    page_or_problem,
    read_form,
    read_json,
)
from services.alert_mail.schemas.subscriptions import (
    ConfirmRequest,
    SubscriptionAccepted,
    SubscriptionConfirmed,
    SubscriptionCounts,
    SubscriptionCreate,
    SubscriptionEventList,
    SubscriptionEventRead,
    SubscriptionList,
    SubscriptionRead,
    SubscriptionUpdate,
)
from services.alert_mail.settings import Settings
from services.kit.auth import (
    Citizen,
    OptionalPrincipal,
    Principal,
    Public,
    authenticated,
    mark_auth,
)
from services.kit.deps import ClockDep, SessionDep, app_settings
from services.kit.errors import AppError, Forbidden, UnprocessableContent
from services.kit.idempotency import Idempotency
from services.kit.openapi import PAGE_OR_PROBLEM
from services.kit.pagination import Cursor, Limit
from services.kit.problems import wants_html

router = APIRouter(prefix="/v1", tags=["subscriptions"])

COUNT_ROLES = ("alert_publisher", "approver", "emergency_publisher")


@mark_auth("staff", kinds={"staff"}, roles=COUNT_ROLES)
async def subscription_counter(request: Request) -> Principal:
    """Staff who publish or approve alerts (or admins) may see the counts."""
    principal = await authenticated(request)
    if principal.kind != "staff" and "admin" not in principal.roles:
        raise Forbidden("this endpoint is for staff accounts")
    if not any(principal.has_role(role) for role in COUNT_ROLES):
        raise Forbidden("this endpoint needs the role alert_publisher or approver")
    return principal


Counter = Annotated[Principal, Depends(subscription_counter)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
LinkToken = Annotated[str, Query(min_length=1, max_length=4096, description="from the mail")]
SubscriptionId = Annotated[
    str, Path(pattern=r"^sub_[0-9A-HJKMNP-TV-Z]{26}$", max_length=64, examples=["sub_01J..."])
]
QrSize = Annotated[
    int, Query(ge=MIN_SCALE, le=MAX_SCALE, description="pixels per QR module (1 to 40)")
]

_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "an HTML page"},
    **PAGE_OR_PROBLEM,
}


# --- sign-up --------------------------------------------------------------------------------


@router.get("/subscriptions/signup", response_class=HTMLResponse, responses=_HTML)
async def signup_form(session: SessionDep, _: Public) -> HTMLResponse:
    """The sign-up page (Japanese; the QR code opens it). It posts to `POST /v1/subscriptions`."""
    choices = await service.load_choices(session)
    return page(pages.signup_page(pages.FormState(choices.categories, choices.districts)))


async def _signup_from_form(
    request: Request, session: AsyncSession, settings: Settings, owner: str | None, now: Any
) -> HTMLResponse:
    form = await read_form(request)
    categories = form.get("categories", [])
    districts = form.get("districts", [])
    email = first(form, "email")
    plain_japanese = first(form, "plain_japanese") == "true"
    values = {
        "email": email,
        "categories": categories,
        "districts": districts,
        "language": first(form, "language", "ja"),
        "plain_japanese": plain_japanese,
    }
    try:
        body = SubscriptionCreate.model_validate(values)
        await service.request_subscription(session, settings, body, owner=owner, now=now)
    except (ValidationError, UnprocessableContent) as exc:
        choices = await service.load_choices(session)
        state = pages.FormState(
            choices.categories,
            choices.districts,
            chosen_categories=frozenset(categories),
            chosen_districts=frozenset(districts),
            email=email[:254],
            plain_japanese=plain_japanese,
            errors=field_errors(invalid_fields(exc), "ja"),
        )
        return page_or_problem(request, exc, pages.signup_page(state), 422)
    return page(pages.signup_sent_page(), 202)


@router.post(
    "/subscriptions",
    status_code=202,
    response_model=SubscriptionAccepted,
    openapi_extra=json_body_schema(SubscriptionCreate),
    responses={202: {"content": {"text/html": {}}}, **PAGE_OR_PROBLEM},
)
async def create_subscription(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
    idem: Idempotency,
) -> Response:
    """Asks for a subscription: mails a signed confirmation link that expires. Always `202`
    with the same body, whether the address is new, subscribed, suspended or throttled; nothing
    is active until the link is confirmed. With a citizen's bearer token the subscription will
    belong to that account. Also takes the sign-up page's form (answers with a page)."""
    owner = service.owner_of(principal)
    if is_form(request):
        if request.headers.get("idempotency-key"):
            raise UnprocessableContent(
                "Idempotency-Key is for JSON requests", field="Idempotency-Key"
            )
        return await _signup_from_form(request, session, settings, owner, clock.now())
    body = await read_json(request, SubscriptionCreate)
    if (replay := await idem.begin(body)) is not None:
        return replay
    await service.request_subscription(session, settings, body, owner=owner, now=clock.now())
    return await idem.complete(202, SubscriptionAccepted())


# --- confirmation ---------------------------------------------------------------------------


def _link_problem(request: Request, exc: AppError, language: str = "ja") -> HTMLResponse:
    """A browser gets the page explaining the link; any other client the problem."""
    html = pages.link_problem_page(language=language, expired=isinstance(exc, LinkExpired))
    return page_or_problem(request, exc, html, exc.status)


@router.get("/subscriptions/confirm", response_class=HTMLResponse, responses=_HTML)
async def confirm_form(
    request: Request,
    token: LinkToken,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    _: Public,
) -> HTMLResponse:
    """The page the confirmation mail links to. Opening it changes nothing (mail scanners
    prefetch links): its button posts the token to `POST /v1/subscriptions/confirm`."""
    try:
        asked = service.read_confirmation(settings, token, clock.now())
    except (LinkExpired, LinkInvalid) as exc:
        return _link_problem(request, exc)
    choices = await service.load_choices(session)
    return page(
        pages.confirm_page(
            language=asked.language,
            token=token,
            email=asked.email,
            categories=choices.pick_categories(asked.categories),
            districts=choices.pick_districts(asked.districts),
            plain_japanese=asked.plain_japanese,
        )
    )


@router.post(
    "/subscriptions/confirm",
    response_model=SubscriptionConfirmed,
    openapi_extra=json_body_schema(ConfirmRequest),
    responses=_HTML,
)
async def confirm(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
) -> Response | SubscriptionConfirmed:
    """Activates the subscription the token asks for (creates it, or replaces its choices and
    reactivates it). Confirming twice is harmless. A logged-in citizen becomes its owner.
    JSON `{token}` answers JSON; the confirm page's form answers with a page."""
    now = clock.now()
    if is_form(request):
        token = first(await read_form(request), "token")
        try:
            confirmation = service.read_confirmation(settings, token, now)
            subscription = await service.confirm(
                session, confirmation, principal=principal, now=now
            )
        except (LinkExpired, LinkInvalid) as exc:
            return _link_problem(request, exc)
        return page(
            pages.confirmed_page(
                language=subscription.language,
                manage_url=service.manage_url(settings, subscription),
            )
        )
    body = await read_json(request, ConfirmRequest)
    confirmation = service.read_confirmation(settings, body.token, now)
    subscription = await service.confirm(session, confirmation, principal=principal, now=now)
    read = await reads.read_one(session, subscription)
    return SubscriptionConfirmed(
        **read.model_dump(), manage_url=service.manage_url(settings, subscription)
    )


# --- manage link ----------------------------------------------------------------------------


async def _manage_html(
    session: AsyncSession,
    settings: Settings,
    subscription: Subscription,
    token: str,
    *,
    saved: bool = False,
    errors: list[str] | None = None,
) -> str:
    choices = await service.load_choices(session)
    read = await reads.read_one(session, subscription)
    state = pages.FormState(
        choices.categories,
        choices.districts,
        chosen_categories=frozenset(read.categories),
        chosen_districts=frozenset(read.districts),
        language=read.language,
        plain_japanese=read.plain_japanese,
        email=read.email,
        errors=errors or [],
    )
    return pages.manage_page(
        token=token,
        unsubscribe_token=service.unsubscribe_token(settings, subscription),
        status=subscription.status,
        state=state,
        saved=saved,
    )


@router.get("/subscriptions/manage", response_class=HTMLResponse, responses=_HTML)
async def manage_form(
    request: Request, token: LinkToken, session: SessionDep, settings: SettingsDep, _: Public
) -> HTMLResponse:
    """The personal manage page every alert mail links to: current choices, a form to change
    them, and buttons to unsubscribe or (when stopped) to resume."""
    try:
        subscription = await service.by_personal_token(session, settings, MANAGE_PURPOSE, token)
    except LinkInvalid as exc:
        return _link_problem(request, exc)
    return page(await _manage_html(session, settings, subscription, token))


@router.post("/subscriptions/manage", response_class=HTMLResponse, responses=_HTML)
async def manage_submit(
    request: Request,
    token: LinkToken,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    _: Public,
) -> HTMLResponse:
    """The manage page's form: `action=save` with the choices, or `action=resubscribe`."""
    try:
        subscription = await service.by_personal_token(session, settings, MANAGE_PURPOSE, token)
    except LinkInvalid as exc:
        return _link_problem(request, exc)
    form = await read_form(request)
    try:
        if first(form, "action") == "resubscribe":
            changes = SubscriptionUpdate(status=SubscriptionState.ACTIVE)
        else:
            changes = SubscriptionUpdate.model_validate(
                {
                    "categories": form.get("categories", []),
                    "districts": form.get("districts", []),
                    "language": first(form, "language", subscription.language),
                    "plain_japanese": first(form, "plain_japanese") == "true",
                }
            )
        await service.update(session, subscription, changes, principal=None, now=clock.now())
    except (ValidationError, UnprocessableContent) as exc:
        errors = field_errors(invalid_fields(exc), subscription.language)
        html = await _manage_html(session, settings, subscription, token, errors=errors)
        return page_or_problem(request, exc, html, 422)
    return page(await _manage_html(session, settings, subscription, token, saved=True))


@router.get("/subscriptions/by-token", response_model=SubscriptionRead)
async def read_by_token(
    token: LinkToken, session: SessionDep, settings: SettingsDep, _: Public
) -> SubscriptionRead:
    """The subscription a manage link names (for front-ends); stale links are refused."""
    subscription = await service.by_personal_token(session, settings, MANAGE_PURPOSE, token)
    return await reads.read_one(session, subscription)


@router.patch("/subscriptions/by-token", response_model=SubscriptionRead)
async def update_by_token(
    token: LinkToken,
    body: SubscriptionUpdate,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    _: Public,
) -> SubscriptionRead:
    """Changes choices, or the status (`unsubscribed` / `active`), through a manage link."""
    subscription = await service.by_personal_token(session, settings, MANAGE_PURPOSE, token)
    await service.update(session, subscription, body, principal=None, now=clock.now())
    return await reads.read_one(session, subscription)


# --- unsubscribe link -----------------------------------------------------------------------


@router.get("/subscriptions/unsubscribe", response_class=HTMLResponse, responses=_HTML)
async def unsubscribe_form(
    request: Request, token: LinkToken, session: SessionDep, settings: SettingsDep, _: Public
) -> HTMLResponse:
    """The page a person opens from `List-Unsubscribe`: asks before doing anything."""
    try:
        subscription = await service.by_personal_token(
            session, settings, UNSUBSCRIBE_PURPOSE, token
        )
    except LinkInvalid as exc:
        return _link_problem(request, exc)
    return page(
        pages.unsubscribe_page(
            language=subscription.language, email=subscription.email, token=token
        )
    )


@router.post(
    "/subscriptions/unsubscribe",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}, "text/html": {}}}, **PAGE_OR_PROBLEM},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {
                    "schema": {
                        "type": "object",
                        "required": ["List-Unsubscribe"],
                        "properties": {
                            "List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}
                        },
                    }
                }
                for media in ("application/x-www-form-urlencoded", "multipart/form-data")
            },
        }
    },
)
async def unsubscribe(
    request: Request,
    token: LinkToken,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    _: Public,
) -> Response:
    """The RFC 8058 one-click target (`List-Unsubscribe-Post: List-Unsubscribe=One-Click`):
    no cookies or authorization, the link is the authority. Idempotent; `200`, no redirect."""
    html = wants_html(request)
    try:
        subscription = await service.by_personal_token(
            session, settings, UNSUBSCRIBE_PURPOSE, token
        )
    except LinkInvalid as exc:
        return _link_problem(request, exc)
    if not is_form(request) or first(await read_form(request), "List-Unsubscribe") != "One-Click":
        raise UnprocessableContent(
            "send the form field List-Unsubscribe=One-Click", field="List-Unsubscribe"
        )
    await service.unsubscribe(session, subscription, principal=None, now=clock.now())
    if html:
        return page(pages.unsubscribed_page(language=subscription.language))
    return PlainTextResponse("unsubscribed\n", headers={"Cache-Control": "no-store"})


# --- a citizen's own ------------------------------------------------------------------------


@router.get("/subscriptions/mine", response_model=SubscriptionList)
async def list_mine(
    principal: Citizen, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> SubscriptionList:
    """The subscriptions confirmed while this citizen was logged in."""
    items, next_cursor = await reads.list_owned(session, principal.sub, limit=limit, cursor=cursor)
    return SubscriptionList(items=items, next_cursor=next_cursor)


@router.patch("/subscriptions/mine/{subscription_id}", response_model=SubscriptionRead)
async def update_mine(
    subscription_id: SubscriptionId,
    body: SubscriptionUpdate,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
) -> SubscriptionRead:
    subscription = await reads.get_owned(session, principal.sub, subscription_id)
    await service.update(session, subscription, body, principal=principal, now=clock.now())
    return await reads.read_one(session, subscription)


@router.get("/subscriptions/mine/{subscription_id}/events", response_model=SubscriptionEventList)
async def events_of_mine(
    subscription_id: SubscriptionId,
    principal: Citizen,
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SubscriptionEventList:
    """The append-only history of the subscription's status (confirmed, unsubscribed,
    suspended after bounces, resubscribed), oldest first."""
    await reads.get_owned(session, principal.sub, subscription_id)
    rows, next_cursor = await reads.events(session, subscription_id, limit=limit, cursor=cursor)
    return SubscriptionEventList(
        items=[SubscriptionEventRead.model_validate(e, from_attributes=True) for e in rows],
        next_cursor=next_cursor,
    )


@router.delete("/subscriptions/mine/{subscription_id}", status_code=204, response_class=Response)
async def unsubscribe_mine(
    subscription_id: SubscriptionId, principal: Citizen, session: SessionDep, clock: ClockDep
) -> Response:
    """Unsubscribes (the record stays, unsubscribed, so it can be resumed with PATCH)."""
    subscription = await reads.get_owned(session, principal.sub, subscription_id)
    await service.unsubscribe(session, subscription, principal=principal, now=clock.now())
    return Response(status_code=204)


# --- staff and the QR code ------------------------------------------------------------------


@router.get("/subscriptions", response_model=SubscriptionCounts)
async def count_subscriptions(_: Counter, session: SessionDep) -> SubscriptionCounts:
    """How many subscribe, by status, category, district and language; no personal data."""
    return await reads.counts(session)


_QR_CACHE = {"Cache-Control": "public, max-age=3600"}


@router.get(
    "/subscriptions/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "QR code"}},
)
async def qr_code_png(settings: SettingsDep, _: Public, size: QrSize = 8) -> Response:
    """A QR code (PNG) that opens the sign-up page, for posters and leaflets."""
    png = qr_png(signup_url(settings.public_url), size)
    return Response(png, media_type="image/png", headers=_QR_CACHE)


@router.get(
    "/subscriptions/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "QR code"}},
)
async def qr_code_svg(settings: SettingsDep, _: Public, size: QrSize = 8) -> Response:
    """The same QR code as SVG, for print."""
    svg = qr_svg(signup_url(settings.public_url), size)
    return Response(svg, media_type="image/svg+xml", headers=_QR_CACHE)
