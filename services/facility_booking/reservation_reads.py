"""Reading reservations: the response shape, the owner's and the managing staff's lookups,
the owner's list and a reservation's history."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.lifecycles import RESERVATIONS, ReservationState
from services.facility_booking.facilities_service import load_site, require_manager
from services.facility_booking.models import Reservation, ReservationEvent
from services.facility_booking.schemas.reservations import FeeRead, ReservationRead
from services.kit.auth import Principal
from services.kit.clock import JST
from services.kit.errors import Forbidden, NotFound
from services.kit.pagination import keyset_page


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
    except Forbidden:  # another department's reservation does not exist for this caller
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
