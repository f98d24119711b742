"""Lottery rounds (抽選 → 先着): open with a published commitment, take entries inside the
window (a per-user quota the database enforces), draw by the pure rule of
`domain.lottery_draw` (the seed revealed), let winners confirm into reservations, release
unconfirmed wins when the round finishes."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking import notices
from services.facility_booking import reservations_service as reservations
from services.facility_booking.domain.calendar_rules import month_days, slot_times
from services.facility_booking.domain.lifecycles import (
    ENTRIES,
    ROUNDS,
    EntryState,
    EntryStep,
    RoundState,
    RoundStep,
)
from services.facility_booking.domain.lottery_draw import DrawEntry, commitment, draw, new_seed
from services.facility_booking.domain.vocabulary import HolderKind, PaymentMethod
from services.facility_booking.facilities_service import (
    SERVICE,
    Site,
    load_site,
    require_manager,
)
from services.facility_booking.models import (
    Facility,
    LotteryEntry,
    LotteryRound,
    Registration,
    Reservation,
)
from services.facility_booking.occupancy_service import Cell, cells, release, try_occupy
from services.facility_booking.reservations_service import Booking
from services.facility_booking.schemas.lottery import (
    EntryCreate,
    EntryRead,
    PublicEntry,
    RoundCreate,
    RoundRead,
)
from services.kit import audit
from services.kit.auth import Principal
from services.kit.clock import JST
from services.kit.errors import Conflict, NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.kit.pagination import keyset_page

WINNING = (EntryState.WON, EntryState.CONFIRMED, EntryState.RELEASED, EntryState.VOID)


def accepting(round_: LotteryRound, now: datetime) -> bool:
    return (
        RoundState(round_.status) is RoundState.OPEN and round_.opens_at <= now < round_.closes_at
    )


def round_units(site: Site, round_: LotteryRound) -> list[str]:
    return list(round_.unit_codes) or list(site.units)


async def to_read(session: AsyncSession, round_: LotteryRound, now: datetime) -> RoundRead:
    site = await load_site(session, round_.facility_code)
    count = (
        await session.exec(
            select(func.count())
            .select_from(LotteryEntry)
            .where(
                LotteryEntry.round_id == round_.id,
                LotteryEntry.status != EntryState.WITHDRAWN.value,
            )
        )
    ).one()
    revealed = RoundState(round_.status) is not RoundState.OPEN
    return RoundRead.model_validate(
        {
            **round_.model_dump(),
            "unit_codes": round_units(site, round_),
            "units": {code: sorted(leaves) for code, leaves in site.leaves.items()},
            "accepting_entries": accepting(round_, now),
            "seed": round_.seed_hex if revealed else None,
            "entry_count": int(count),
        }
    )


async def create(
    session: AsyncSession, body: RoundCreate, *, actor: Principal, now: datetime
) -> LotteryRound:
    site = await load_site(session, body.facility_code, field="facility_code")
    require_manager(site.facility, actor)
    for code in body.unit_codes:
        site.unit(code, field="unit_codes")
    moments = [
        ("opens_at", body.opens_at),
        ("closes_at", body.closes_at),
        ("draw_at", body.draw_at),
        ("confirm_by", body.confirm_by),
        ("first_come_opens_at", body.first_come_opens_at),
    ]
    for name, moment in moments:
        if moment.tzinfo is None:
            raise UnprocessableContent(f"{name} needs a UTC offset", field=name)
    for (earlier, a), (later, b) in pairwise(moments):
        if b < a:
            raise UnprocessableContent(f"{later} is before {earlier}", field=later)
    if body.closes_at <= body.opens_at:
        raise UnprocessableContent("the entry window is empty", field="closes_at")
    first_day, _ = month_days(body.target_month)
    if body.first_come_opens_at.astimezone(JST).date() >= first_day:
        raise UnprocessableContent(
            "first-come must open before the target month starts", field="first_come_opens_at"
        )
    seed = new_seed()
    round_ = LotteryRound(
        id=new_id("lot"),
        facility_code=site.code,
        target_month=body.target_month,
        title_ja=body.title_ja or f"{site.facility.name_ja} {body.target_month} 抽選",
        unit_codes=sorted(set(body.unit_codes)),
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        draw_at=body.draw_at,
        confirm_by=body.confirm_by,
        first_come_opens_at=body.first_come_opens_at,
        max_entries_per_user=body.max_entries_per_user,
        seed_hex=seed.hex(),
        commitment=commitment(seed),
        status=RoundState.OPEN.value,
        created_by=actor.sub,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(round_)
    except IntegrityError as exc:
        raise Conflict(f"{site.code} already has a lottery round for {body.target_month}") from exc
    await session.exec(
        update(Facility)
        .where(
            col(Facility.code) == site.code,
            or_(
                col(Facility.lottery_until).is_(None),
                col(Facility.lottery_until) < round_.first_come_opens_at,
            ),
        )
        .values(lottery_until=round_.first_come_opens_at)
    )
    await audit.record(
        session,
        actor,
        "lottery.opened",
        round_.id,
        service=SERVICE,
        now=now,
        changes={"commitment": round_.commitment, "target_month": body.target_month},
    )
    return round_


async def get(session: AsyncSession, round_id: str) -> LotteryRound:
    found = await session.get(LotteryRound, round_id)
    if found is None:
        raise NotFound(f"no lottery round {round_id}")
    return found


async def list_rounds(
    session: AsyncSession, facility_code: str | None, *, limit: int, cursor: str | None
) -> tuple[list[LotteryRound], str | None]:
    query = select(LotteryRound)
    if facility_code is not None:
        query = query.where(LotteryRound.facility_code == facility_code)
    return await keyset_page(session, query, col(LotteryRound.id), limit=limit, cursor=cursor)


async def enter(
    session: AsyncSession,
    round_: LotteryRound,
    registration: Registration,
    body: EntryCreate,
    *,
    actor: Principal,
    now: datetime,
) -> LotteryEntry:
    if not accepting(round_, now):
        raise Conflict(
            "this round takes entries from "
            f"{round_.opens_at.astimezone(JST).isoformat()} until "
            f"{round_.closes_at.astimezone(JST).isoformat()}",
            round_status=round_.status,
        )
    site = await load_site(session, round_.facility_code)
    if body.unit_code not in round_units(site, round_):
        raise UnprocessableContent(f"{body.unit_code} is not in this round", field="unit_code")
    site.slot(body.slot_code)
    if body.day.isoformat()[:7] != round_.target_month:
        raise UnprocessableContent(f"this round is for {round_.target_month}", field="day")
    if site.closed.is_closed(body.day):
        raise UnprocessableContent(f"{site.facility.name_ja} is closed that day", field="day")
    used = await session.exec(
        select(LotteryEntry.user_entry_no).where(
            LotteryEntry.round_id == round_.id, LotteryEntry.subject == actor.sub
        )
    )
    taken = set(used.all())
    free = [n for n in range(1, round_.max_entries_per_user + 1) if n not in taken]
    if not free:
        raise Conflict(f"at most {round_.max_entries_per_user} entries per user in this round")
    entry = LotteryEntry(
        id=new_id("ent"),
        round_id=round_.id,
        subject=actor.sub,
        registration_id=registration.id,
        user_entry_no=free[0],
        unit_code=body.unit_code,
        day=body.day,
        slot_code=body.slot_code,
        status=EntryState.ENTERED.value,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(entry)  # the unique indexes hold the quota and one entry per slot
    except IntegrityError as exc:
        raise Conflict(
            "you entered this slot already, or reached your entry limit meanwhile"
        ) from exc
    await audit.record(session, actor, "lottery.entered", entry.id, service=SERVICE, now=now)
    return entry


async def _move_entry(
    session: AsyncSession,
    entry: LotteryEntry,
    step: EntryStep,
    actor: Principal | None,
    now: datetime,
) -> None:
    before = entry.status
    entry.status = ENTRIES.apply(entry.status, step).value
    session.add(entry)
    await audit.record(
        session,
        actor,
        f"lottery.entry_{step.value}",
        entry.id,
        service=SERVICE,
        now=now,
        changes={"status": [before, entry.status]},
    )


async def own_entry(
    session: AsyncSession, round_id: str, entry_id: str, subject: str, *, for_update: bool = True
) -> LotteryEntry:
    """The caller's entry in the round; 404 for another user's entry or another round's, as
    for a missing one."""
    found = await session.get(LotteryEntry, entry_id, with_for_update=for_update)
    if found is None or found.subject != subject or found.round_id != round_id:
        raise NotFound(f"no lottery entry {entry_id} in round {round_id}")
    return found


async def withdraw(
    session: AsyncSession, entry: LotteryEntry, *, actor: Principal, now: datetime
) -> None:
    round_ = await get(session, entry.round_id)
    if not accepting(round_, now):
        raise Conflict("entries can be withdrawn only while the round takes entries")
    await _move_entry(session, entry, EntryStep.WITHDRAW, actor, now)
    await session.flush()


async def draw_round(
    session: AsyncSession, round_: LotteryRound, *, actor: Principal | None, now: datetime
) -> LotteryRound:
    """Reveals the seed and applies the pure draw; a win whose slot a block took since
    becomes void. Only once the entry window has closed."""
    if now < round_.closes_at:
        raise Conflict("the entry window is still open")
    locked = await session.get(
        LotteryRound, round_.id, with_for_update=True, populate_existing=True
    )
    assert locked is not None
    round_ = locked
    round_.status = ROUNDS.apply(round_.status, RoundStep.DRAW).value
    round_.drawn_at = now
    site = await load_site(session, round_.facility_code)
    entries = list(
        (
            await session.exec(
                select(LotteryEntry)
                .where(
                    LotteryEntry.round_id == round_.id,
                    LotteryEntry.status == EntryState.ENTERED.value,
                )
                .order_by(col(LotteryEntry.id))
            )
        ).all()
    )
    published = [DrawEntry(e.id, e.unit_code, e.day.isoformat(), e.slot_code) for e in entries]
    winners = set(draw(bytes.fromhex(round_.seed_hex), published, site.leaves))
    wins: list[tuple[list[Cell], LotteryEntry]] = []
    for entry in entries:
        if entry.id in winners:
            wins.append((cells(site.leaves[entry.unit_code], entry.day, entry.slot_code), entry))
        else:
            await _move_entry(session, entry, EntryStep.LOSE, actor, now)
    # The winners' rows go in in the index's order, like every other holder's, so that a
    # block or booking racing the draw never waits on it in a cycle.
    for wanted, entry in sorted(wins, key=lambda win: win[0]):
        held = await try_occupy(session, site.code, wanted, HolderKind.LOTTERY_WIN, entry.id)
        await _move_entry(session, entry, EntryStep.WIN if held else EntryStep.VOID, actor, now)
    for entry in entries:
        starts_at, ends_at = slot_times(entry.day, site.slot(entry.slot_code))
        state = EntryState(entry.status)
        await notices.lottery_result(
            session,
            entry,
            site.facility,
            starts_at,
            ends_at,
            won=state is EntryState.WON,
            void=state is EntryState.VOID,
            now=now,
        )
    session.add(round_)
    await session.flush()
    await audit.record(
        session,
        actor,
        "lottery.drawn",
        round_.id,
        service=SERVICE,
        now=now,
        changes={"seed": round_.seed_hex, "entries": len(entries), "winners": len(winners)},
    )
    return round_


async def confirm(
    session: AsyncSession,
    entry: LotteryEntry,
    registration: Registration,
    payment_method: PaymentMethod | None,
    *,
    actor: Principal,
    now: datetime,
) -> Reservation:
    """Turns a win into a reservation (held until paid when a fee is due)."""
    round_ = await get(session, entry.round_id)
    if now >= round_.confirm_by:
        raise Conflict("the confirmation deadline of this round has passed")
    ENTRIES.require(entry.status, EntryStep.CONFIRM)
    site = await load_site(session, round_.facility_code)
    booking = Booking(
        unit_code=entry.unit_code,
        day=entry.day,
        slot_code=entry.slot_code,
        payment_method=payment_method,
        lottery_entry_id=entry.id,
        taken_over_from=entry.id,
    )
    reservation = await reservations.book(
        session, site, registration, booking, actor=actor, now=now
    )
    await _move_entry(session, entry, EntryStep.CONFIRM, actor, now)
    entry.reservation_id = reservation.id
    session.add(entry)
    await session.flush()
    return reservation


async def finish(session: AsyncSession, round_: LotteryRound, now: datetime) -> LotteryRound:
    """After the confirmation deadline: unconfirmed wins are released."""
    if now < round_.confirm_by:
        raise Conflict("winners may still confirm")
    round_.status = ROUNDS.apply(round_.status, RoundStep.FINISH).value
    won = await session.exec(
        select(LotteryEntry).where(
            LotteryEntry.round_id == round_.id, LotteryEntry.status == EntryState.WON.value
        )
    )
    for entry in won.all():
        await release(session, entry.id)
        await _move_entry(session, entry, EntryStep.RELEASE, None, now)
    session.add(round_)
    await session.flush()
    await audit.record(session, None, "lottery.finished", round_.id, service=SERVICE, now=now)
    return round_


async def public_entries(
    session: AsyncSession, round_id: str, *, limit: int, cursor: str | None
) -> tuple[list[PublicEntry], str | None]:
    query = select(LotteryEntry).where(LotteryEntry.round_id == round_id)
    rows, next_cursor = await keyset_page(
        session, query, col(LotteryEntry.id), limit=limit, cursor=cursor
    )
    return [PublicEntry.model_validate(e, from_attributes=True) for e in rows], next_cursor


async def my_entries(
    session: AsyncSession, round_: LotteryRound, subject: str, *, limit: int, cursor: str | None
) -> tuple[list[EntryRead], str | None]:
    query = select(LotteryEntry).where(
        LotteryEntry.round_id == round_.id, LotteryEntry.subject == subject
    )
    rows, next_cursor = await keyset_page(
        session, query, col(LotteryEntry.id), limit=limit, cursor=cursor
    )
    return [entry_read(round_, e) for e in rows], next_cursor


def entry_read(round_: LotteryRound, entry: LotteryEntry) -> EntryRead:
    won = EntryState(entry.status) is EntryState.WON
    return EntryRead.model_validate(
        {**entry.model_dump(), "confirm_by": round_.confirm_by if won else None}
    )


async def due_rounds(
    session: AsyncSession, now: datetime
) -> tuple[list[LotteryRound], list[LotteryRound]]:
    """Rounds whose draw time passed, and drawn rounds past their confirmation deadline."""
    to_draw = await session.exec(
        select(LotteryRound).where(
            LotteryRound.status == RoundState.OPEN.value, col(LotteryRound.draw_at) <= now
        )
    )
    to_finish = await session.exec(
        select(LotteryRound).where(
            LotteryRound.status == RoundState.DRAWN.value, col(LotteryRound.confirm_by) <= now
        )
    )
    return list(to_draw.all()), list(to_finish.all())
