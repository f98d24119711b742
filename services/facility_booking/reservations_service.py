"""Reservations: book (first-come, from a lottery win or a waitlist offer), pay, use, cancel
with the tiered refund, cancel by the facility, expire; reads for owners and staff.

Every transition is a compare-and-set on the status, recorded in `reservation_events` and
audited in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking import notices
from services.facility_booking.domain.booking_rules import (
    days_before,
    hold_deadline,
    is_late_cancellation,
    window_refusal,
)
from services.facility_booking.domain.calendar_rules import Slot, slot_times
from services.facility_booking.domain.lifecycles import (
    RESERVATIONS,
    ReservationState,
    ReservationStep,
    RoundState,
)
from services.facility_booking.domain.pricing import quote, refund_amount, refund_percent
from services.facility_booking.domain.vocabulary import HolderKind, PaymentMethod
from services.facility_booking.facilities_service import SERVICE, Site, load_site, require_manager
from services.facility_booking.models import (
    ActiveCount,
    LotteryRound,
    Registration,
    Reservation,
    ReservationEvent,
)
from services.facility_booking.occupancy_service import cells, occupy, release, transfer
from services.facility_booking.payment_requests import request_payment, request_refund
from services.facility_booking.registrations_service import (
    reduction_percent_of,
    residency_of,
    restrict,
    restriction_end,
)
from services.facility_booking.schemas.reservations import FeeRead, ReservationRead
from services.facility_booking.waitlist_offers import offer_freed
from services.kit import audit
from services.kit.auth import Principal
from services.kit.clock import JST
from services.kit.errors import Conflict, IllegalTransition, NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.kit.pagination import keyset_page


class NotBookable(Conflict):
    slug = "not-bookable"
    title = "This slot cannot be booked"


class LotterySlot(Conflict):
    slug = "lottery-slot"
    title = "This slot is in an open lottery round"


class TooManyReservations(Conflict):
    slug = "too-many-reservations"
    title = "Too many active reservations at this facility"


def to_read(r: Reservation) -> ReservationRead:
    status = ReservationState(r.status)
    return ReservationRead.model_validate(
        {
            **r.model_dump(),
            "starts_at": r.starts_at.astimezone(JST),
            "ends_at": r.ends_at.astimezone(JST),
            "fee": FeeRead(
                amount=r.fee,
                base=r.base_fee,
                residency=r.residency,
                day_type=r.day_type,
                reduction_percent=r.reduction_percent,
            ),
            "allowed_transitions": [t.value for t in RESERVATIONS.allowed(status)],
        }
    )


async def _lottery_refusal(
    session: AsyncSession, site: Site, unit_code: str, day: date, now: datetime
) -> LotteryRound | None:
    rounds = await session.exec(
        select(LotteryRound).where(
            LotteryRound.facility_code == site.code,
            LotteryRound.target_month == day.isoformat()[:7],
            col(LotteryRound.first_come_opens_at) > now,
        )
    )
    for round_ in rounds.all():
        if not round_.unit_codes or set(site.leaves[unit_code]) & {
            leaf for code in round_.unit_codes for leaf in site.leaves.get(code, ())
        }:
            return round_
    return None


async def check_first_come(
    session: AsyncSession,
    site: Site,
    registration: Registration,
    unit_code: str,
    day: date,
    slot: Slot,
    now: datetime,
) -> None:
    """The rules a first-come booking must meet (closed days, windows, lottery rounds)."""
    if site.closed.is_closed(day):
        raise NotBookable(f"{site.facility.name_ja} is closed on {day.isoformat()} (休館日)")
    starts_at, _ = slot_times(day, slot)
    refusal = window_refusal(site.windows, residency_of(registration), day, starts_at, now)
    if refusal is not None:
        raise NotBookable(refusal)
    round_ = await _lottery_refusal(session, site, unit_code, day, now)
    if round_ is not None:
        state = RoundState(round_.status)
        raise LotterySlot(
            f"this slot belongs to lottery round {round_.id} ({state.value}); first-come "
            f"booking opens at {round_.first_come_opens_at.astimezone(JST).isoformat()}",
            round_id=round_.id,
        )


async def _bump_active(session: AsyncSession, site: Site, registration_id: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.exec(
        insert(ActiveCount)
        .values(registration_id=registration_id, facility_code=site.code, count=0)
        .on_conflict_do_nothing(index_elements=["registration_id", "facility_code"])
    )
    limit = site.facility.max_active_per_user
    bumped = await session.exec(
        update(ActiveCount)
        .where(
            col(ActiveCount.registration_id) == registration_id,
            col(ActiveCount.facility_code) == site.code,
            col(ActiveCount.count) < limit,
        )
        .values(count=col(ActiveCount.count) + 1)
    )
    if getattr(bumped, "rowcount", 0) != 1:
        raise TooManyReservations(
            f"{site.facility.name_ja} allows {limit} active reservations per user",
            limit=limit,
        )


async def _drop_active(session: AsyncSession, reservation: Reservation) -> None:
    await session.exec(
        update(ActiveCount)
        .where(
            col(ActiveCount.registration_id) == reservation.registration_id,
            col(ActiveCount.facility_code) == reservation.facility_code,
            col(ActiveCount.count) > 0,
        )
        .values(count=col(ActiveCount.count) - 1)
    )


async def _event(
    session: AsyncSession,
    reservation: Reservation,
    transition: str,
    before: str | None,
    actor: Principal | None,
    now: datetime,
    note: str | None = None,
) -> None:
    session.add(
        ReservationEvent(
            reservation_id=reservation.id,
            at=now,
            transition=transition,
            from_state=before,
            to_state=reservation.status,
            actor=actor.sub if actor else None,
            note=note,
        )
    )
    await audit.record(
        session,
        actor,
        f"reservation.{transition}",
        reservation.id,
        service=SERVICE,
        now=now,
        changes={"status": [before, reservation.status], **({"note": note} if note else {})},
    )


@dataclass(frozen=True, slots=True)
class Booking:
    unit_code: str
    day: date
    slot_code: str
    payment_method: PaymentMethod | None = None
    purpose: str = ""
    attendees: int | None = None
    series_id: str | None = None
    lottery_entry_id: str | None = None
    taken_over_from: str | None = None  # the lottery win or waitlist offer holding the rows


async def book(
    session: AsyncSession,
    site: Site,
    registration: Registration,
    booking: Booking,
    *,
    actor: Principal,
    now: datetime,
) -> Reservation:
    """Creates the reservation and its occupancy rows in the caller's transaction: confirmed
    at once when nothing is due, else held until the payment deadline."""
    unit = site.unit(booking.unit_code)
    slot = site.slot(booking.slot_code)
    if booking.attendees is not None and booking.attendees > unit.capacity:
        raise UnprocessableContent(
            f"{unit.name_ja} holds at most {unit.capacity} people", field="attendees"
        )
    if booking.taken_over_from is None:
        await check_first_come(session, site, registration, unit.code, booking.day, slot, now)
    price = quote(
        site.fee_rules(unit.code),
        slot.code,
        booking.day,
        residency_of(registration),
        reduction_percent_of(registration),
    )
    if price.amount > 0 and booking.payment_method is None:
        raise UnprocessableContent(
            f"{price.amount} yen is due: choose a payment_method", field="payment_method"
        )
    starts_at, ends_at = slot_times(booking.day, slot)
    held = price.amount > 0
    method = booking.payment_method if held else None
    reservation = Reservation(
        id=new_id("rsv"),
        registration_id=registration.id,
        subject=registration.subject,
        facility_code=site.code,
        unit_code=unit.code,
        day=booking.day,
        slot_code=slot.code,
        starts_at=starts_at,
        ends_at=ends_at,
        status=(ReservationState.HELD if held else ReservationState.CONFIRMED).value,
        base_fee=price.base,
        fee=price.amount,
        residency=price.residency.value,
        day_type=price.day_type.value,
        reduction_percent=price.reduction_percent,
        payment_method=method.value if method else None,
        hold_expires_at=hold_deadline(method, site.holds, now, starts_at) if method else None,
        series_id=booking.series_id,
        lottery_entry_id=booking.lottery_entry_id,
        purpose=booking.purpose,
        attendees=booking.attendees,
        created_at=now,
        updated_at=now,
    )
    if booking.taken_over_from is None:
        wanted = cells(site.leaves[unit.code], booking.day, slot.code)
        await occupy(session, site.code, wanted, HolderKind.RESERVATION, reservation.id)
    elif not await transfer(
        session, booking.taken_over_from, HolderKind.RESERVATION, reservation.id
    ):
        raise Conflict("the slot held for you has been released")
    await _bump_active(session, site, registration.id)
    session.add(reservation)
    await session.flush()
    await _event(session, reservation, "create", None, actor, now)
    if not held:
        await notices.confirmed(session, reservation, now)
    elif method in (PaymentMethod.KONBINI, PaymentMethod.PAYEASY):
        await request_payment(session, reservation, now)
    return reservation


async def move(
    session: AsyncSession,
    reservation: Reservation,
    step: ReservationStep,
    *,
    actor: Principal | None,
    now: datetime,
    note: str | None = None,
    **values: object,
) -> None:
    """Compare-and-set on the status (409 naming the current state when it moved)."""
    before = ReservationState(reservation.status)
    after = RESERVATIONS.apply(before, step)
    result = await session.exec(
        update(Reservation)
        .where(col(Reservation.id) == reservation.id, col(Reservation.status) == before.value)
        .values(status=after.value, updated_at=now, **values)
    )
    if getattr(result, "rowcount", 0) != 1:
        await session.refresh(reservation)
        raise IllegalTransition(reservation.status, step.value)
    await session.refresh(reservation)
    await _event(session, reservation, step.value, before.value, actor, now, note)


async def _let_go(session: AsyncSession, reservation: Reservation, now: datetime) -> None:
    """Frees the slot and the user's quota, and offers the slot to the waitlist."""
    await release(session, reservation.id)
    await _drop_active(session, reservation)
    site = await load_site(session, reservation.facility_code)
    if reservation.starts_at > now:
        await offer_freed(session, site, reservation.day, reservation.slot_code, now)


async def pay(
    session: AsyncSession,
    reservation: Reservation,
    amount: int,
    *,
    actor: Principal | None,
    now: datetime,
    note: str | None = None,
) -> None:
    await move(
        session,
        reservation,
        ReservationStep.PAY,
        actor=actor,
        now=now,
        note=note,
        paid_amount=amount,
        hold_expires_at=None,
    )
    await notices.confirmed(session, reservation, now)


async def cancel(
    session: AsyncSession,
    reservation: Reservation,
    *,
    actor: Principal,
    now: datetime,
    reason: str = "",
) -> None:
    """The user's cancellation: allowed until the facility's deadline; refunds by tier."""
    site = await load_site(session, reservation.facility_code)
    deadline = reservation.starts_at - timedelta(hours=site.facility.cancel_deadline_hours)
    if now > deadline:
        raise Conflict(
            "online cancellation closed at "
            f"{deadline.astimezone(JST).isoformat()}; contact the facility",
            deadline=deadline.astimezone(JST).isoformat(),
        )
    percent = refund_percent(site.refund_tiers, days_before(reservation.day, now))
    late = is_late_cancellation(reservation.day, now, site.facility.late_cancel_days)
    await move(
        session,
        reservation,
        ReservationStep.CANCEL,
        actor=actor,
        now=now,
        note=reason or None,
        cancelled_at=now,
        refund_percent=percent,
        refund_amount=refund_amount(reservation.paid_amount, percent),
        late_cancellation=late,
    )
    await _let_go(session, reservation, now)
    await _refund_and_tell(session, reservation, now, by_facility=False, reason=reason)
    if late:
        await _restrict_if_too_many_late(session, site, reservation.registration_id, now)


async def _refund_and_tell(
    session: AsyncSession,
    reservation: Reservation,
    now: datetime,
    *,
    by_facility: bool,
    reason: str,
) -> None:
    """A refund at payments_mock (a counter payment is refunded at the counter) and a mail."""
    if reservation.payment_method != PaymentMethod.COUNTER.value:
        await request_refund(session, reservation, reservation.refund_amount or 0, now)
    await notices.cancelled(session, reservation, now, by_facility=by_facility, reason=reason)


async def _restrict_if_too_many_late(
    session: AsyncSession, site: Site, registration_id: str, now: datetime
) -> None:
    count = (
        await session.exec(
            select(func.count())
            .select_from(Reservation)
            .where(
                Reservation.registration_id == registration_id,
                col(Reservation.late_cancellation).is_(True),
                col(Reservation.cancelled_at) >= now - timedelta(days=30),
            )
        )
    ).one()
    if count >= site.facility.late_cancel_limit:
        registration = await session.get(Registration, registration_id)
        if registration is not None:
            await restrict(
                session, registration, restriction_end(now, site.facility.restriction_days), now
            )


async def cancel_by_facility(
    session: AsyncSession,
    reservation: Reservation,
    *,
    actor: Principal | None,
    now: datetime,
    reason: str,
) -> None:
    """The facility cancels (maintenance, city event): a full refund, always."""
    await move(
        session,
        reservation,
        ReservationStep.CANCEL_BY_FACILITY,
        actor=actor,
        now=now,
        note=reason,
        cancelled_at=now,
        refund_percent=100,
        refund_amount=reservation.paid_amount,
    )
    await _let_go(session, reservation, now)
    await _refund_and_tell(session, reservation, now, by_facility=True, reason=reason)


async def expire(session: AsyncSession, reservation: Reservation, now: datetime) -> None:
    await move(session, reservation, ReservationStep.EXPIRE, actor=None, now=now)
    await _let_go(session, reservation, now)


async def use(session: AsyncSession, reservation: Reservation, now: datetime) -> None:
    await move(session, reservation, ReservationStep.USE, actor=None, now=now)
    await _drop_active(session, reservation)


# --- reads -----------------------------------------------------------------------------------


async def get_owned(session: AsyncSession, reservation_id: str, subject: str) -> Reservation:
    found = await session.get(Reservation, reservation_id)
    if found is None or found.subject != subject:
        raise NotFound(f"no reservation {reservation_id}")
    return found


async def get_managed(session: AsyncSession, reservation_id: str, actor: Principal) -> Reservation:
    found = await session.get(Reservation, reservation_id)
    if found is None:
        raise NotFound(f"no reservation {reservation_id}")
    site = await load_site(session, found.facility_code)
    try:
        require_manager(site.facility, actor)
    except Exception:
        raise NotFound(f"no reservation {reservation_id}") from None
    return found


async def list_mine(
    session: AsyncSession,
    subject: str,
    *,
    status: ReservationState | None,
    series_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Reservation], str | None]:
    query = select(Reservation).where(Reservation.subject == subject)
    if status is not None:
        query = query.where(Reservation.status == status.value)
    if series_id is not None:
        query = query.where(Reservation.series_id == series_id)
    return await keyset_page(session, query, col(Reservation.id), limit=limit, cursor=cursor)


async def events(
    session: AsyncSession, reservation_id: str, *, limit: int, cursor: str | None
) -> tuple[list[ReservationEvent], str | None]:
    query = select(ReservationEvent).where(ReservationEvent.reservation_id == reservation_id)
    return await keyset_page(session, query, col(ReservationEvent.id), limit=limit, cursor=cursor)
