"""No double booking under concurrency, enforced by the database (SQLite and PostgreSQL):
many users through the gateway at once, on one slot and across a court and its halves."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from services.facility_booking.models import Occupancy, Reservation
from tests.unit.facility_booking.support import Suite, open_weekday, today

GYM = "sogo-taiikukan"
CLIENTS = 50


def _active(day: date) -> SelectOfScalar[Reservation]:
    return select(Reservation).where(
        Reservation.facility_code == GYM,
        Reservation.day == day,
        col(Reservation.status).in_(["held", "confirmed"]),
    )


def _cells(day: date) -> SelectOfScalar[Occupancy]:
    return select(Occupancy).where(Occupancy.facility_code == GYM, Occupancy.day == day)


async def _users(fb: Suite, count: int, prefix: str) -> list[str]:
    subs = [f"{prefix}{i:03d}" for i in range(count)]
    for sub in subs:
        await fb.register(sub)
    return subs


async def test_fifty_users_on_one_slot_get_one_201_and_49_clean_409s(fb: Suite) -> None:
    subs = await _users(fb, CLIENTS, "cit_race")
    day = open_weekday(today() + timedelta(days=14)).isoformat()
    body = {
        "facility_code": GYM,
        "unit_code": "budojo",
        "day": day,
        "slot_code": "night",
        "payment_method": "card",
    }
    responses = await asyncio.gather(*(fb.book(sub, **body) for sub in subs))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CLIENTS - 1), statuses
    for response in responses:
        if response.status_code == 409:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["type"].endswith("/slot-taken")
    async with fb.service.state.db.session(write=False) as session:
        active = (await session.exec(_active(date.fromisoformat(day)))).all()
        cells = (await session.exec(_cells(date.fromisoformat(day)))).all()
    assert len(active) == 1
    assert [(c.unit_code, c.slot_code, c.holder_id) for c in cells] == [
        ("budojo", "night", active[0].id)
    ]


async def test_court_and_halves_from_many_clients_never_overlap(fb: Suite) -> None:
    subs = await _users(fb, 30, "cit_court")
    day = open_weekday(today() + timedelta(days=15))
    units = ("arena-full", "arena-half-a", "arena-half-b")
    attempts = [
        fb.book(
            sub,
            facility_code=GYM,
            unit_code=units[i % 3],
            day=day.isoformat(),
            slot_code=("am", "pm", "night")[i // 10],
            payment_method="card",
        )
        for i, sub in enumerate(subs)
    ]
    responses = await asyncio.gather(*attempts)
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    # Every slot ends with either the whole arena or up to both halves booked.
    assert 3 <= len(created) <= 6
    async with fb.service.state.db.session(write=False) as session:
        rows = [(r.unit_code, r.slot_code) for r in (await session.exec(_active(day))).all()]
        cells = [(c.unit_code, c.slot_code) for c in (await session.exec(_cells(day))).all()]
    leaves = {"arena-full": {"a", "b"}, "arena-half-a": {"a"}, "arena-half-b": {"b"}}
    for slot in ("am", "pm", "night"):
        held = [leaves[u] for u, s in rows if s == slot]
        assert held, f"nobody got {slot}"
        flat = [leaf for group in held for leaf in group]
        assert len(flat) == len(set(flat)), f"{slot} double booked: {held}"
    assert len(cells) == len(set(cells))  # one row per leaf and slot
    assert len(cells) == sum(len(leaves[u]) for u, _ in rows)
