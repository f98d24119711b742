"""The no-double-booking index: occupancy rows per leaf unit, day and slot.

Rows are inserted in the holder's transaction, in one global order (unit, day, slot) so that
two transactions never wait on each other in a cycle; the unique index refuses a second
holder on SQLite and PostgreSQL alike, and that refusal becomes a 409 problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.vocabulary import HolderKind
from services.facility_booking.models import Occupancy
from services.kit.errors import Conflict

Cell = tuple[str, date, str]  # (leaf unit, day, slot code)


class SlotTaken(Conflict):
    slug = "slot-taken"
    title = "The slot is already taken"


def cells(leaves: Iterable[str], day: date, slot_code: str) -> list[Cell]:
    return sorted((leaf, day, slot_code) for leaf in leaves)


async def occupy(
    session: AsyncSession,
    facility_code: str,
    wanted: Sequence[Cell],
    holder_kind: HolderKind,
    holder_id: str,
    *,
    detail: str = "this slot was taken by someone else; choose another slot",
) -> None:
    """Inserts the rows of `holder_id`, or raises `SlotTaken` (the caller's transaction is
    rolled back by the session dependency; use a savepoint to carry on after it)."""
    rows = [
        {
            "facility_code": facility_code,
            "unit_code": unit,
            "day": day,
            "slot_code": slot,
            "holder_kind": holder_kind.value,
            "holder_id": holder_id,
        }
        for unit, day, slot in sorted(wanted)
    ]
    try:
        await session.exec(insert(Occupancy), params=rows)
    except IntegrityError as exc:
        raise SlotTaken(detail) from exc


async def try_occupy(
    session: AsyncSession,
    facility_code: str,
    wanted: Sequence[Cell],
    holder_kind: HolderKind,
    holder_id: str,
) -> bool:
    """`occupy` inside a savepoint: False (and nothing written) when a cell is taken."""
    try:
        async with session.begin_nested():
            await occupy(session, facility_code, wanted, holder_kind, holder_id)
    except SlotTaken:
        return False
    return True


async def release(session: AsyncSession, holder_id: str) -> None:
    await session.exec(delete(Occupancy).where(col(Occupancy.holder_id) == holder_id))


async def transfer(
    session: AsyncSession, holder_id: str, new_kind: HolderKind, new_holder_id: str
) -> int:
    """Hands the rows of a lottery win or waitlist offer to the reservation made from it."""
    result = await session.exec(
        update(Occupancy)
        .where(col(Occupancy.holder_id) == holder_id)
        .values(holder_kind=new_kind.value, holder_id=new_holder_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def holders_in(
    session: AsyncSession,
    facility_code: str,
    units: Iterable[str],
    first: date,
    last: date,
    slot_codes: Iterable[str] | None = None,
) -> list[Occupancy]:
    query = select(Occupancy).where(
        Occupancy.facility_code == facility_code,
        col(Occupancy.unit_code).in_(list(units)),
        col(Occupancy.day) >= first,
        col(Occupancy.day) <= last,
    )
    if slot_codes is not None:
        query = query.where(col(Occupancy.slot_code).in_(list(slot_codes)))
    return list((await session.exec(query)).all())
