"""利用者登録: online registration of individuals and groups, staff approval (automatic for
card-verified users), 減免 grants, the late-cancellation restriction and the calendar token."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.lifecycles import (
    REGISTRATIONS,
    RegistrationState,
    RegistrationStep,
)
from services.facility_booking.domain.vocabulary import REDUCTION_PERCENT, Reduction, Residency
from services.facility_booking.facilities_service import SERVICE, require_facility_staff
from services.facility_booking.models import Counter, Registration
from services.facility_booking.schemas.registrations import RegistrationCreate, RegistrationRead
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.ids import new_id
from services.kit.pagination import keyset_page

USER_NUMBER_COUNTER = "user_number"


class RegistrationRequired(Forbidden):
    slug = "registration-required"
    title = "Register as a facility user first"


class BookingRestricted(Forbidden):
    slug = "booking-restricted"
    title = "New bookings are restricted for a while"


def to_read(registration: Registration) -> RegistrationRead:
    reduction = Reduction(registration.reduction)
    return RegistrationRead.model_validate(
        {
            **registration.model_dump(),
            "reduction": reduction,
            "reduction_percent": REDUCTION_PERCENT[reduction],
        }
    )


async def _next_user_number(session: AsyncSession) -> str:
    """デモ市 user numbers D0000001...: a counter row moved by one UPDATE (row-locked on
    PostgreSQL, serialised by the write lock on SQLite), so two registrations never share one."""
    bumped = await (await session.connection()).execute(
        update(Counter)
        .where(col(Counter.name) == USER_NUMBER_COUNTER)
        .values(value=col(Counter.value) + 1)
        .returning(col(Counter.value))
    )
    value = bumped.scalar_one_or_none()
    if value is None:
        try:
            async with session.begin_nested():
                session.add(Counter(name=USER_NUMBER_COUNTER, value=1))
            value = 1
        except IntegrityError:  # another registration created the counter first
            return await _next_user_number(session)
    return f"D{int(value):07d}"


async def register(
    session: AsyncSession, body: RegistrationCreate, *, actor: Principal, now: datetime
) -> Registration:
    existing = (
        await session.exec(select(Registration).where(Registration.subject == actor.sub))
    ).first()
    if existing is not None:
        raise Conflict(
            f"this account is already registered as {existing.user_number}",
            registration_id=existing.id,
        )
    verified = actor.acr == "jpki"
    registration = Registration(
        id=new_id("reg"),
        subject=actor.sub,
        user_number=await _next_user_number(session),
        **body.model_dump(),
        status=(RegistrationState.APPROVED if verified else RegistrationState.PENDING).value,
        identity_verified=verified,
        decided_by="auto:jpki" if verified else None,
        decided_at=now if verified else None,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(registration)
    except IntegrityError as exc:  # the same account registering twice at once
        raise Conflict("this account is already registered") from exc
    await audit.record(
        session,
        actor,
        "registration.created",
        registration.id,
        service=SERVICE,
        now=now,
        changes={"status": registration.status, "identity_verified": verified},
    )
    return registration


async def find_mine(session: AsyncSession, subject: str) -> Registration | None:
    query = select(Registration).where(Registration.subject == subject)
    return (await session.exec(query)).first()


async def mine(session: AsyncSession, subject: str) -> Registration:
    found = await find_mine(session, subject)
    if found is None:
        raise NotFound("this account has no facility user registration")
    return found


async def approved(session: AsyncSession, subject: str, now: datetime) -> Registration:
    """The caller's registration when it may book now; a 403 problem that says why not."""
    found = (
        await session.exec(select(Registration).where(Registration.subject == subject))
    ).first()
    if found is None:
        raise RegistrationRequired(
            "only registered facility users book: register at POST /v1/facility-users"
        )
    if RegistrationState(found.status) is not RegistrationState.APPROVED:
        raise RegistrationRequired(
            f"your registration is {found.status}; staff approve it before you book",
            registration_status=found.status,
        )
    if found.restricted_until is not None and found.restricted_until > now:
        raise BookingRestricted(
            "too many late cancellations: new bookings are refused until "
            f"{found.restricted_until.isoformat()}",
            restricted_until=found.restricted_until.isoformat(),
        )
    return found


def residency_of(registration: Registration | None) -> Residency:
    return Residency(registration.residency) if registration else Residency.RESIDENT


def reduction_percent_of(registration: Registration | None) -> int:
    return REDUCTION_PERCENT[Reduction(registration.reduction)] if registration else 0


@dataclass(frozen=True, slots=True)
class StaffFilter:
    status: RegistrationState | None = None


async def staff_list(
    session: AsyncSession, actor: Principal, filters: StaffFilter, *, limit: int, cursor: str | None
) -> tuple[list[Registration], str | None]:
    await require_facility_staff(session, actor)
    query = select(Registration)
    if filters.status is not None:
        query = query.where(Registration.status == filters.status.value)
    return await keyset_page(session, query, col(Registration.id), limit=limit, cursor=cursor)


async def staff_read(
    session: AsyncSession, registration_id: str, *, actor: Principal, now: datetime
) -> Registration:
    await require_facility_staff(session, actor)
    found = await session.get(Registration, registration_id)
    if found is None:
        raise NotFound(f"no registration {registration_id}")
    await audit.record(session, actor, "registration.viewed", found.id, service=SERVICE, now=now)
    return found


async def decide(
    session: AsyncSession,
    registration_id: str,
    step: RegistrationStep,
    *,
    actor: Principal,
    now: datetime,
    note: str | None = None,
) -> Registration:
    await require_facility_staff(session, actor)
    found = await session.get(Registration, registration_id, with_for_update=True)
    if found is None:
        raise NotFound(f"no registration {registration_id}")
    before = found.status
    found.status = REGISTRATIONS.apply(found.status, step).value
    found.decided_by = actor.sub
    found.decided_at = now
    found.decision_note = note
    found.updated_at = now
    session.add(found)
    await session.flush()
    await audit.record(
        session,
        actor,
        f"registration.{step.value}",
        found.id,
        service=SERVICE,
        now=now,
        changes={"status": [before, found.status], "note": note},
    )
    return found


async def grant_reduction(
    session: AsyncSession,
    registration_id: str,
    reduction: Reduction,
    *,
    actor: Principal,
    now: datetime,
) -> Registration:
    await require_facility_staff(session, actor)
    found = await session.get(Registration, registration_id, with_for_update=True)
    if found is None:
        raise NotFound(f"no registration {registration_id}")
    before = found.reduction
    found.reduction = reduction.value
    found.reduction_granted_by = actor.sub
    found.updated_at = now
    session.add(found)
    await session.flush()
    await audit.record(
        session,
        actor,
        "registration.reduction_granted",
        found.id,
        service=SERVICE,
        now=now,
        changes={"reduction": [before, reduction.value]},
    )
    return found


async def restrict(
    session: AsyncSession, registration: Registration, until: datetime, now: datetime
) -> None:
    registration.restricted_until = until
    registration.updated_at = now
    session.add(registration)
    await audit.record(
        session,
        None,
        "registration.restricted",
        registration.id,
        service=SERVICE,
        now=now,
        changes={"restricted_until": until.isoformat(), "reason": "late_cancellations"},
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate_calendar_token(session: AsyncSession, actor: Principal, now: datetime) -> str:
    """A new personal feed token (the old one stops working); only its hash is stored."""
    registration = await mine(session, actor.sub)
    token = secrets.token_urlsafe(24)
    registration.calendar_token_hash = _token_hash(token)
    registration.updated_at = now
    session.add(registration)
    await session.flush()
    await audit.record(
        session, actor, "registration.calendar_rotated", registration.id, service=SERVICE, now=now
    )
    return token


async def revoke_calendar_token(session: AsyncSession, actor: Principal, now: datetime) -> None:
    registration = await mine(session, actor.sub)
    registration.calendar_token_hash = None
    registration.updated_at = now
    session.add(registration)
    await audit.record(
        session, actor, "registration.calendar_revoked", registration.id, service=SERVICE, now=now
    )


async def by_calendar_token(session: AsyncSession, token: str) -> Registration:
    found = (
        await session.exec(
            select(Registration).where(Registration.calendar_token_hash == _token_hash(token))
        )
    ).first()
    if found is None:
        raise NotFound("no calendar feed at this address (it may have been revoked)")
    return found


def restriction_end(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)
