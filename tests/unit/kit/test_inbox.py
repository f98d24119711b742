"""Consumer-side dedupe: a redelivered message id is recognised, in the caller's transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import func, select

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.inbox import first_delivery
from services.kit.tables import InboxMessage


async def test_first_delivery_then_duplicates(db: Database, clock: Clock) -> None:
    async with db.session() as session:
        assert await first_delivery(session, "msg_1", source="payments", now=clock.now())
    for _ in range(3):
        async with db.session() as session:
            assert not await first_delivery(session, "msg_1", source="payments", now=clock.now())
    async with db.session() as session:
        assert await first_delivery(session, "msg_2", source="payments", now=clock.now())
    async with db.session(write=False) as session:
        stored = await session.get(InboxMessage, "msg_1")
        assert stored is not None
        assert stored.source == "payments"


async def test_a_rolled_back_processing_does_not_count_as_delivered(
    db: Database, clock: Clock
) -> None:
    async def process_and_fail() -> None:
        async with db.session() as session:
            assert await first_delivery(session, "msg_x", source="s", now=clock.now())
            raise RuntimeError("processing failed")

    with pytest.raises(RuntimeError):
        await process_and_fail()
    async with db.session() as session:
        assert await first_delivery(session, "msg_x", source="s", now=clock.now())


async def test_concurrent_deliveries_of_one_id_are_processed_once(
    db: Database, clock: Clock
) -> None:
    async def consume() -> bool:
        async with db.session() as session:
            first = await first_delivery(session, "msg_race", source="s", now=clock.now())
            await asyncio.sleep(0.01)  # hold the transaction open while the others arrive
            return first

    results = await asyncio.gather(*(consume() for _ in range(10)))
    assert sorted(results) == [False] * 9 + [True]
    async with db.session(write=False) as session:
        count = (await session.exec(select(func.count()).select_from(InboxMessage))).one()
    assert count == 1
