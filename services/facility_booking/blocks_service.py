"""Staff blocks (maintenance, city events): occupancy rows held by the block, so nobody can
book through them; reservations in the way are refused (409) or cancelled by the facility."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.calendar_rules import days
from services.facility_booking.domain.vocabulary import HolderKind
from services.facility_booking.facilities_service import SERVICE, Site, require_manager
from services.facility_booking.models import Block, Reservation
from services.facility_booking.occupancy_service import Cell, holders_in, occupy, release
from services.facility_booking.reservations_service import cancel_by_facility
from services.facility_booking.schemas.facilities import BlockCreate, BlockRead
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.kit.pagination import keyset_page

MAX_BLOCK_DAYS = 366


def to_read(block: Block) -> BlockRead:
    return BlockRead.model_validate(block, from_attributes=True)


async def create(
    session: AsyncSession, site: Site, body: BlockCreate, *, actor: Principal, now: datetime
) -> Block:
    require_manager(site.facility, actor)
    unit = site.unit(body.unit_code)
    if body.day_to < body.day_from:
        raise UnprocessableContent("day_to is before day_from", field="day_to")
    if (body.day_to - body.day_from).days >= MAX_BLOCK_DAYS:
        raise UnprocessableContent(f"at most {MAX_BLOCK_DAYS} days per block", field="day_to")
    slot_codes = body.slot_codes or [s.code for s in site.slots]
    for code in slot_codes:
        site.slot(code, field="slot_codes")
    leaves = site.leaves[unit.code]
    in_the_way = await holders_in(
        session, site.code, leaves, body.day_from, body.day_to, slot_codes
    )
    reservation_ids = sorted(
        {r.holder_id for r in in_the_way if r.holder_kind == HolderKind.RESERVATION.value}
    )
    others = [r for r in in_the_way if r.holder_kind != HolderKind.RESERVATION.value]
    if others:
        raise Conflict(
            "another block, lottery win or waitlist offer holds part of this range",
            holders=sorted({r.holder_id for r in others}),
        )
    if reservation_ids and not body.cancel_reservations:
        raise Conflict(
            "reservations are in the way; cancel them first or send cancel_reservations",
            reservations=reservation_ids,
        )
    block = Block(
        id=new_id("blk"),
        facility_code=site.code,
        unit_code=unit.code,
        day_from=body.day_from,
        day_to=body.day_to,
        slot_codes=slot_codes,
        reason_ja=body.reason_ja,
        created_by=actor.sub,
        created_at=now,
        cancelled_reservations=reservation_ids,
    )
    for reservation_id in reservation_ids:
        reservation = await session.get(Reservation, reservation_id)
        if reservation is not None:
            await cancel_by_facility(
                session,
                reservation,
                actor=actor,
                now=now,
                reason=body.reason_ja,
                offer_slot=False,
            )
    wanted: list[Cell] = [
        (leaf, day, code)
        for leaf in leaves
        for day in days(body.day_from, body.day_to)
        for code in slot_codes
    ]
    await occupy(
        session,
        site.code,
        wanted,
        HolderKind.BLOCK,
        block.id,
        detail="part of this range was booked meanwhile; try again",
    )
    session.add(block)
    await session.flush()
    await audit.record(
        session,
        actor,
        "block.created",
        block.id,
        service=SERVICE,
        now=now,
        changes={
            "unit": unit.code,
            "from": body.day_from.isoformat(),
            "to": body.day_to.isoformat(),
            "slots": slot_codes,
            "cancelled": reservation_ids,
        },
    )
    return block


async def get_managed(
    session: AsyncSession, site: Site, block_id: str, *, actor: Principal
) -> Block:
    """A block of `site` for the staff of the facility's department; for anyone else, and for
    a block of another facility, a 404 like a missing one (as `reservation_reads.get_managed`)."""
    block = await session.get(Block, block_id)
    if block is None or block.facility_code != site.code:
        raise NotFound(f"no block {block_id} at {site.code}")
    try:
        require_manager(site.facility, actor)
    except Forbidden:  # another department's block does not exist for this caller
        raise NotFound(f"no block {block_id} at {site.code}") from None
    return block


async def lift(
    session: AsyncSession, site: Site, block_id: str, *, actor: Principal, now: datetime
) -> Block:
    require_manager(site.facility, actor)
    block = await get_managed(session, site, block_id, actor=actor)
    if block.released_at is not None:
        raise Conflict("this block was already lifted")
    await release(session, block.id)
    block.released_at = now
    session.add(block)
    await session.flush()
    await audit.record(session, actor, "block.lifted", block.id, service=SERVICE, now=now)
    return block


async def list_blocks(
    session: AsyncSession, site: Site, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[Block], str | None]:
    require_manager(site.facility, actor)
    query = select(Block).where(Block.facility_code == site.code)
    return await keyset_page(session, query, col(Block.id), limit=limit, cursor=cursor)
