"""Subscriptions: sign-up with double opt-in, confirmation, personal links and changes (the
owner's view and the staff counts are subscription_reads). Routes call these; the session
dependency commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy.ext.asyncio
from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.delivery.enqueue import enqueue_message
from services.alert_mail.domain import links
from services.alert_mail.domain.subscription_rules import (
    CONFIRM_PURPOSE,
    LINK_NAMESPACE,
    MANAGE_PURPOSE,
    SUBSCRIPTIONS,
    UNSUBSCRIBE_PURPOSE,
    ConfirmationRequest,
    LinkExpired,
    LinkInvalid,
    SubscriptionState,
    Transition,
    address_digest,
    checked_codes,
    may_send_confirmation,
)
from services.alert_mail.domain.subscription_texts import Choice, confirmation_mail
from services.alert_mail.models import (
    Category,
    ConfirmationSend,
    District,
    Subscription,
    SubscriptionCategory,
    SubscriptionDistrict,
    SubscriptionEvent,
)
from services.alert_mail.schemas.subscriptions import (
    SubscriptionCreate,
    SubscriptionUpdate,
)
from services.alert_mail.settings import Settings
from services.alert_mail.subscription_reads import choices_of
from services.kit import audit
from services.kit.auth import Principal
from services.kit.email_address import normalise_email
from services.kit.ids import new_id
from services.kit.signed_links import LinkError, read_link, sign_link

SERVICE = "alert_mail"
THROTTLE_WINDOW = timedelta(hours=1)


def _secret(settings: Settings) -> str:
    return settings.link_secret.get_secret_value()


def service_name(settings: Settings) -> str:
    return f"{settings.city_name_ja} 防災・防犯メール"


def owner_of(principal: Principal | None) -> str | None:
    """The account a subscription made or confirmed by `principal` belongs to: citizens and
    businesses own theirs; staff, service clients and anonymous callers own none."""
    return principal.sub if principal and principal.kind in ("citizen", "business") else None


# --- reference choices ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choices:
    categories: list[Choice]
    districts: list[Choice]

    def pick_categories(self, codes: Sequence[str]) -> list[Choice]:
        wanted = set(codes)
        return [c for c in self.categories if c.code in wanted]

    def pick_districts(self, codes: Sequence[str]) -> list[Choice]:
        wanted = set(codes)
        return [d for d in self.districts if d.code in wanted]


async def load_choices(session: AsyncSession) -> Choices:
    categories = await session.exec(
        select(Category).order_by(col(Category.position), col(Category.code))
    )
    districts = await session.exec(
        select(District).order_by(col(District.position), col(District.code))
    )
    return Choices(
        [Choice(c.code, c.name_ja, c.name_en) for c in categories.all()],
        [Choice(d.code, d.name_ja, d.name_en) for d in districts.all()],
    )


# --- sign-up --------------------------------------------------------------------------------


def confirmation_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/v1/subscriptions/confirm?token={quote(token)}"


async def _throttle_allows(session: AsyncSession, settings: Settings, email: str, now: Any) -> bool:
    """Counts this address's confirmation mails of the last hour and records this one if it
    may go; rows older than the window are of no use and are dropped on the way."""
    digest = address_digest(_secret(settings), email)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # Concurrent sign-ups for one address queue here, so none counts past the limit
        # (SQLite writers are already serialised by BEGIN IMMEDIATE).
        key = int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)
        await session.exec(select(func.pg_advisory_xact_lock(key)))
    cutoff = now - THROTTLE_WINDOW
    await session.exec(delete(ConfirmationSend).where(col(ConfirmationSend.sent_at) <= cutoff))
    sent = await session.exec(
        select(func.count())
        .select_from(ConfirmationSend)
        .where(col(ConfirmationSend.address_digest) == digest)
    )
    if not may_send_confirmation(int(sent.one()), settings.confirmation_mails_per_hour):
        return False
    session.add(ConfirmationSend(address_digest=digest, sent_at=now))
    await session.flush()
    return True


async def request_subscription(
    session: AsyncSession,
    settings: Settings,
    body: SubscriptionCreate,
    *,
    owner: str | None,
    now: datetime,
) -> None:
    """Mails a signed confirmation link carrying the request; stores nothing a fan-out could
    reach. The caller answers the same whatever happened here (known, unknown, throttled)."""
    email = normalise_email(body.email)
    choices = await load_choices(session)
    categories = checked_codes(
        body.categories, (c.code for c in choices.categories), "categories", required=True
    )
    districts = checked_codes(
        body.districts, (d.code for d in choices.districts), "districts", required=False
    )
    if not await _throttle_allows(session, settings, email, now):
        return
    request = ConfirmationRequest(
        email=email,
        categories=categories,
        districts=districts,
        language=body.language,
        plain_japanese=body.plain_japanese and body.language == "ja",
        owner=owner,
    )
    hours = settings.confirmation_ttl_hours
    token = sign_link(
        _secret(settings),
        purpose=CONFIRM_PURPOSE,
        sub=email,
        now=now,
        ttl=timedelta(hours=hours),
        namespace=LINK_NAMESPACE,
        **request.claims(),
    )
    mail = confirmation_mail(
        service=service_name(settings),
        url=confirmation_url(settings, token),
        hours=hours,
        language=request.language,
        plain_japanese=request.plain_japanese,
        categories=choices.pick_categories(categories),
        districts=choices.pick_districts(districts),
    )
    await enqueue_message(
        session,
        to=email,
        subject=mail.subject,
        text=mail.text,
        kind="confirmation",
        now=now,
        headers={"Auto-Submitted": "auto-generated"},
        language=request.language,
    )


# --- confirmation ---------------------------------------------------------------------------


def read_confirmation(settings: Settings, token: str, now: datetime) -> ConfirmationRequest:
    try:
        claims = read_link(
            _secret(settings), token, purpose=CONFIRM_PURPOSE, now=now, namespace=LINK_NAMESPACE
        )
    except LinkError as exc:
        if "expired" in str(exc):
            raise LinkExpired() from exc
        raise LinkInvalid() from exc
    return ConfirmationRequest.from_claims(claims)


async def _replace_choices(
    session: AsyncSession, subscription_id: str, categories: Sequence[str], districts: Sequence[str]
) -> None:
    await session.exec(
        delete(SubscriptionCategory).where(
            col(SubscriptionCategory.subscription_id) == subscription_id
        )
    )
    await session.exec(
        delete(SubscriptionDistrict).where(
            col(SubscriptionDistrict.subscription_id) == subscription_id
        )
    )
    for code in categories:
        session.add(SubscriptionCategory(subscription_id=subscription_id, category=code))
    for code in districts:
        session.add(SubscriptionDistrict(subscription_id=subscription_id, district=code))
    await session.flush()


async def _still_known(
    session: AsyncSession, request: ConfirmationRequest
) -> tuple[list[str], list[str]]:
    """The link's choices that still exist; a link whose choices all vanished is refused
    rather than silently widened to the whole city or to nothing."""
    choices = await load_choices(session)
    categories = [c.code for c in choices.pick_categories(request.categories)]
    districts = [d.code for d in choices.pick_districts(request.districts)]
    if not categories or (request.districts and not districts):
        raise LinkInvalid("the choices in this link no longer exist; please sign up again")
    return categories, districts


async def find_by_email(session: AsyncSession, email: str) -> Subscription | None:
    rows = await session.exec(select(Subscription).where(col(Subscription.email) == email))
    return rows.first()


async def confirm(
    session: AsyncSession,
    request: ConfirmationRequest,
    *,
    principal: Principal | None,
    now: datetime,
) -> Subscription:
    """Activates the request: creates the subscription or replaces its choices. The same link
    confirmed again changes nothing while the subscription is active."""
    categories, districts = await _still_known(session, request)
    logged_in = owner_of(principal)
    subscription = await find_by_email(session, request.email)
    if subscription is None:
        subscription = Subscription(
            id=new_id("sub"),
            email=request.email,
            status=SubscriptionState.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        previous: str | None = None
        subscription.owner = logged_in or request.owner
        session.add(subscription)
        await session.flush()
    else:
        if (
            subscription.confirmation_jti == request.jti
            and subscription.status == SubscriptionState.ACTIVE
        ):
            return subscription
        previous = subscription.status
        subscription.status = SUBSCRIPTIONS.apply(subscription.status, Transition.CONFIRM)
        if previous == SubscriptionState.UNSUBSCRIBED:
            subscription.link_version += 1  # a new subscription period: old mails' links die
        # A link minted while someone was logged in never takes over an owned subscription.
        subscription.owner = logged_in or subscription.owner or request.owner
    subscription.language = request.language
    subscription.plain_japanese = request.plain_japanese
    subscription.confirmation_jti = request.jti
    subscription.confirmed_at = now
    subscription.updated_at = now
    subscription.hard_bounces = 0
    subscription.suspended_at = None
    subscription.unsubscribed_at = None
    await _replace_choices(session, subscription.id, categories, districts)
    _add_history(
        session, subscription.id, Transition.CONFIRM, previous, subscription.status, principal, now
    )
    await audit.record(
        session,
        principal,
        "subscription.confirmed",
        subscription.id,
        service=SERVICE,
        now=now,
        changes={"status": [previous, subscription.status], "categories": categories},
    )
    return subscription


# --- personal links -------------------------------------------------------------------------


def personal_token(settings: Settings, purpose: str, subscription: Subscription) -> str:
    return links.personal_token(
        _secret(settings), purpose, subscription.id, subscription.link_version
    )


def manage_url(settings: Settings, subscription: Subscription) -> str:
    return links.manage_url(
        settings.public_url, personal_token(settings, MANAGE_PURPOSE, subscription)
    )


def unsubscribe_token(settings: Settings, subscription: Subscription) -> str:
    return personal_token(settings, UNSUBSCRIBE_PURPOSE, subscription)


async def by_personal_token(
    session: AsyncSession, settings: Settings, purpose: str, token: str
) -> Subscription:
    """The subscription a manage or unsubscribe link names; a forged link, or one minted
    before the subscription's `link_version` was bumped, is invalid."""
    found = links.read_personal_token(_secret(settings), purpose, token)
    if found is None:
        raise LinkInvalid()
    subscription_id, version = found
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None or subscription.link_version != version:
        raise LinkInvalid()
    return subscription


# --- changes --------------------------------------------------------------------------------


async def _move(
    session: AsyncSession,
    subscription: Subscription,
    transition: Transition,
    *,
    principal: Principal | None,
    now: datetime,
) -> None:
    previous = subscription.status
    subscription.status = SUBSCRIPTIONS.apply(subscription.status, transition)
    if previous == subscription.status:
        return
    subscription.updated_at = now
    if transition is Transition.UNSUBSCRIBE:
        subscription.unsubscribed_at = now
    if transition is Transition.RESUBSCRIBE:
        subscription.unsubscribed_at = None
        subscription.suspended_at = None
        subscription.hard_bounces = 0
    session.add(subscription)
    await record_transition(
        session,
        subscription.id,
        transition,
        previous,
        subscription.status,
        principal=principal,
        now=now,
    )


def _add_history(
    session: sqlalchemy.ext.asyncio.AsyncSession,
    subscription_id: str,
    transition: Transition,
    before: str | None,
    after: str,
    principal: Principal | None,
    now: datetime,
    note: str | None = None,
) -> None:
    session.add(
        SubscriptionEvent(
            subscription_id=subscription_id,
            at=now,
            transition=transition.value,
            from_state=before,
            to_state=after,
            actor=principal.sub if principal is not None else None,
            note=note,
        )
    )


async def record_transition(
    session: sqlalchemy.ext.asyncio.AsyncSession,
    subscription_id: str,
    transition: Transition,
    before: str,
    after: str,
    *,
    principal: Principal | None,
    now: datetime,
    changes: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> None:
    """A subscription's history: one history row and one audit event per status change,
    whoever made it (a resident's link, the owner's account, the delivery worker suspending a
    bouncing address)."""
    _add_history(session, subscription_id, transition, before, after, principal, now, note)
    await audit.record(
        session,
        principal,
        f"subscription.{after}",
        subscription_id,
        service=SERVICE,
        now=now,
        changes={"status": [before, after], "transition": transition.value, **(changes or {})},
    )


async def unsubscribe(
    session: AsyncSession,
    subscription: Subscription,
    *,
    principal: Principal | None,
    now: datetime,
) -> None:
    """Idempotent: unsubscribing an unsubscribed subscription changes nothing."""
    await _move(session, subscription, Transition.UNSUBSCRIBE, principal=principal, now=now)


async def update(
    session: AsyncSession,
    subscription: Subscription,
    changes: SubscriptionUpdate,
    *,
    principal: Principal | None,
    now: datetime,
) -> None:
    """New choices (replacing the old ones), then the status change if one was asked for."""
    choices = await load_choices(session)
    current = await choices_of(session, [subscription.id])
    categories, districts = current.get(subscription.id, ([], []))
    changed: dict[str, Any] = {}
    if changes.categories is not None:
        categories = list(
            checked_codes(
                changes.categories,
                (c.code for c in choices.categories),
                "categories",
                required=True,
            )
        )
        changed["categories"] = categories
    if changes.districts is not None:
        districts = list(
            checked_codes(
                changes.districts, (d.code for d in choices.districts), "districts", required=False
            )
        )
        changed["districts"] = districts
    if changes.language is not None:
        subscription.language = changes.language
        changed["language"] = changes.language
    if changes.plain_japanese is not None:
        subscription.plain_japanese = changes.plain_japanese
        changed["plain_japanese"] = changes.plain_japanese
    if changed:
        subscription.updated_at = now
        session.add(subscription)
        await _replace_choices(session, subscription.id, categories, districts)
        await audit.record(
            session,
            principal,
            "subscription.updated",
            subscription.id,
            service=SERVICE,
            now=now,
            changes=changed,
        )
    if changes.status is SubscriptionState.UNSUBSCRIBED:
        await _move(session, subscription, Transition.UNSUBSCRIBE, principal=principal, now=now)
    elif (
        changes.status is SubscriptionState.ACTIVE
        and subscription.status != SubscriptionState.ACTIVE
    ):
        await _move(session, subscription, Transition.RESUBSCRIBE, principal=principal, now=now)
