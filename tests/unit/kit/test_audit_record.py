"""`audit.record` writes its event into the outbox in the caller's transaction: the event exists
exactly when the change it describes was committed."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from services.kit.audit import AUDIT_TOPIC, record
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.context import request_id_var
from services.kit.db import Database
from services.kit.tables import OutboxMessage

STAFF = Principal(sub="stf_1", kind="staff", roles=frozenset({"approver"}), department="shimin")


async def audit_rows(db: Database) -> list[OutboxMessage]:
    async with db.session(write=False) as session:
        query = select(OutboxMessage).where(col(OutboxMessage.topic) == AUDIT_TOPIC)
        return list((await session.exec(query)).all())


async def test_committed_change_carries_its_audit_event(db: Database, clock: Clock) -> None:
    request_id_var.set("req-audit-1")
    async with db.session() as session:
        event_id = await record(
            session,
            STAFF,
            "application.approved",
            "app_123",
            service="e_application",
            now=clock.now(),
            changes={"status": ["in_review", "approved"]},
        )
    [row] = await audit_rows(db)
    assert row.id == event_id
    assert row.payload["action"] == "application.approved"
    assert row.payload["actor"] == "stf_1"
    assert row.payload["roles"] == ["approver"]
    assert row.payload["changes"] == {"status": ["in_review", "approved"]}
    assert row.payload["request_id"] == "req-audit-1"


async def test_rolled_back_change_leaves_no_audit_event(db: Database, clock: Clock) -> None:
    async def failing_change() -> None:
        async with db.session() as session:
            await record(session, None, "payment.refunded", "pay_1", service="p", now=clock.now())
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert await audit_rows(db) == []
