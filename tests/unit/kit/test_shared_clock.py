"""The simulation offset a service keeps in its database: only ever raised, and followed by
every process on that database (here: a second engine and clock, as another process has)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.shared_clock import ClockFollower, store_offset, stored_offset


async def test_the_stored_offset_only_grows(db: Database) -> None:
    now = datetime.now(UTC)
    assert await stored_offset(db) == timedelta(0)
    await store_offset(db, timedelta(hours=2, microseconds=7), now)
    await store_offset(db, timedelta(hours=1), now)  # a slower replica's older move
    assert await stored_offset(db) == timedelta(hours=2, microseconds=7)


async def test_another_process_follows_the_moved_clock(db: Database, db_url: str) -> None:
    moved = Clock()
    moved.advance(timedelta(days=3))
    await store_offset(db, moved.offset, moved.now())

    other = Database(db_url)  # its own engine, as a worker process has
    try:
        clock = Clock()
        follower = ClockFollower(other, clock, interval=60)
        woken: list[str] = []
        follower.on_move.append(lambda: woken.append("moved"))
        assert await follower.refresh() is True
        assert clock.offset == timedelta(days=3)
        assert clock.now() - datetime.now(UTC) > timedelta(days=3) - timedelta(minutes=1)
        assert woken == ["moved"]
        assert await follower.refresh() is False, "nothing new: no wake-up"
        assert woken == ["moved"]
        clock.advance(timedelta(days=1))  # a local move ahead of the row is kept
        assert await follower.refresh() is False
        assert clock.offset == timedelta(days=4)
    finally:
        await other.dispose()
