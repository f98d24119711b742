"""Lottery rounds (抽選): staff open them; anyone reads a round (its commitment, after the
draw its seed) and its published entries; registered users enter, withdraw and confirm wins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from services.facility_booking import lottery_service as service
from services.facility_booking import registrations_service as registrations
from services.facility_booking import reservation_reads
from services.facility_booking.domain.vocabulary import FACILITY_CODE_PATTERN
from services.facility_booking.facilities_service import load_site, require_manager
from services.facility_booking.schemas.lottery import (
    ENTRY_ID_PATTERN,
    ROUND_ID_PATTERN,
    EntryConfirm,
    EntryCreate,
    EntryList,
    EntryRead,
    PublicEntryList,
    RoundCreate,
    RoundList,
    RoundRead,
)
from services.facility_booking.schemas.reservations import ReservationRead
from services.kit.auth import Citizen, Public, Staff
from services.kit.deps import ClockDep, SessionDep
from services.kit.idempotency import Idempotency
from services.kit.openapi import CREATED_ELSEWHERE
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/v1/lotteries", tags=["lotteries"])
RoundId = Annotated[str, Path(pattern=ROUND_ID_PATTERN)]
EntryId = Annotated[str, Path(pattern=ENTRY_ID_PATTERN)]


@router.post(
    "",
    response_model=RoundRead,
    status_code=201,
    responses={200: {"model": RoundRead, "description": "an Idempotency-Key replay"}},
)
async def create_round(
    body: RoundCreate, principal: Staff, session: SessionDep, clock: ClockDep, idem: Idempotency
) -> Response:
    """Opens a round for a facility's target month. Its commitment `sha256(seed)` is public
    at once; the seed stays secret until the draw. Until `first_come_opens_at` the month's
    slots of the round's units can only be entered, not booked."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    now = clock.now()
    round_ = await service.create(session, body, actor=principal, now=now)
    view = await service.to_read(session, round_, now)
    return await idem.complete(201, view, location=f"/v1/lotteries/{round_.id}")


@router.get("", response_model=RoundList)
async def list_rounds(
    session: SessionDep,
    clock: ClockDep,
    _: Public,
    facility_code: Annotated[str | None, Query(pattern=FACILITY_CODE_PATTERN)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RoundList:
    rows, next_cursor = await service.list_rounds(
        session, facility_code, limit=limit, cursor=cursor
    )
    now = clock.now()
    return RoundList(
        items=[await service.to_read(session, r, now) for r in rows], next_cursor=next_cursor
    )


@router.get("/{round_id}", response_model=RoundRead)
async def read_round(
    round_id: RoundId, session: SessionDep, clock: ClockDep, _: Public
) -> RoundRead:
    """The round, with what anyone needs to recompute its draw (`draw_rule`, `units`, the
    seed once drawn, and the entries at `/entries`)."""
    return await service.to_read(session, await service.get(session, round_id), clock.now())


@router.get("/{round_id}/entries", response_model=PublicEntryList)
async def public_entries(
    round_id: RoundId, session: SessionDep, _: Public, limit: Limit = 100, cursor: Cursor = None
) -> PublicEntryList:
    """Every entry in published order (id ascending), without who entered it."""
    await service.get(session, round_id)
    items, next_cursor = await service.public_entries(session, round_id, limit=limit, cursor=cursor)
    return PublicEntryList(items=items, next_cursor=next_cursor)


@router.post(
    "/{round_id}/entries",
    response_model=EntryRead,
    status_code=201,
    responses={200: {"model": EntryRead, "description": "an Idempotency-Key replay"}},
)
async def enter(
    round_id: RoundId,
    body: EntryCreate,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """Enters one unit, day and slot of the target month (at most `max_entries_per_user`)."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    now = clock.now()
    registration = await registrations.approved(session, principal.sub, now)
    round_ = await service.get(session, round_id)
    entry = await service.enter(session, round_, registration, body, actor=principal, now=now)
    return await idem.complete(
        201,
        service.entry_read(round_, entry),
        location=f"/v1/lotteries/{round_.id}/entries/{entry.id}",
    )


@router.get("/{round_id}/entries/{entry_id}", response_model=EntryRead)
async def read_entry(
    round_id: RoundId, entry_id: EntryId, principal: Citizen, session: SessionDep
) -> EntryRead:
    """The caller's own entry, as `my-entries` lists it (404 for anyone else's)."""
    round_ = await service.get(session, round_id)
    entry = await service.own_entry(session, round_id, entry_id, principal.sub, for_update=False)
    return service.entry_read(round_, entry)


@router.get("/{round_id}/my-entries", response_model=EntryList)
async def my_entries(
    round_id: RoundId,
    principal: Citizen,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> EntryList:
    round_ = await service.get(session, round_id)
    items, next_cursor = await service.my_entries(
        session, round_, principal.sub, limit=limit, cursor=cursor
    )
    return EntryList(items=items, next_cursor=next_cursor)


@router.post("/{round_id}/entries/{entry_id}/withdraw", response_model=EntryRead)
async def withdraw(
    round_id: RoundId, entry_id: EntryId, principal: Citizen, session: SessionDep, clock: ClockDep
) -> EntryRead:
    round_ = await service.get(session, round_id)
    entry = await service.own_entry(session, round_id, entry_id, principal.sub)
    await service.withdraw(session, entry, actor=principal, now=clock.now())
    return service.entry_read(round_, entry)


@router.post(
    "/{round_id}/entries/{entry_id}/confirm",
    response_model=ReservationRead,
    status_code=201,
    responses=CREATED_ELSEWHERE,
)
async def confirm(
    round_id: RoundId,
    entry_id: EntryId,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    body: EntryConfirm | None = None,
) -> ReservationRead:
    """A winner confirms before `confirm_by`: the win becomes a reservation (held until paid
    when a fee is due). Unconfirmed wins are released when the round finishes."""
    now = clock.now()
    entry = await service.own_entry(session, round_id, entry_id, principal.sub)
    registration = await registrations.approved(session, principal.sub, now)
    reservation = await service.confirm(
        session,
        entry,
        registration,
        (body or EntryConfirm()).payment_method,
        actor=principal,
        now=now,
    )
    response.headers["Location"] = f"/v1/reservations/{reservation.id}"
    return reservation_reads.to_read(reservation)


@router.post("/{round_id}/draw", response_model=RoundRead)
async def draw(
    round_id: RoundId, principal: Staff, session: SessionDep, clock: ClockDep
) -> RoundRead:
    """Staff draw now (after the entry window; the scheduled job draws at `draw_at`)."""
    now = clock.now()
    round_ = await service.get(session, round_id)
    require_manager((await load_site(session, round_.facility_code)).facility, principal)
    round_ = await service.draw_round(session, round_, actor=principal, now=now)
    return await service.to_read(session, round_, now)
