"""The chain's write transactions: the drivers' own paths (aiosqlite, asyncpg) store exactly
the rows the SQLAlchemy Core path stores, and a failed transaction leaves nothing behind. On
SQLite, and on PostgreSQL when CITYHALL_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlmodel import SQLModel

from gateway.audit_log.events import ChainEntry, access_entry, domain_entry
from gateway.audit_log.settings import AuditSettings
from gateway.audit_log.store import AuditLog
from gateway.audit_log.writer import (
    ChainWriter,
    CoreWriter,
    PostgresWriter,
    SqliteWriter,
    sqlite_datetime,
    writer_for,
)
from services.kit.db import Database
from services.kit.migrate import upgrade
from tests.support.databases import database_url

MIGRATIONS = Path(__file__).resolve().parents[3] / "gateway" / "migrations"
START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@asynccontextmanager
async def running_log(
    url: str, key_path: Path, *, writer: type[ChainWriter] | None = None, **settings: Any
) -> AsyncIterator[tuple[AuditLog, Database]]:
    db = Database(url)
    await upgrade(db.engine, MIGRATIONS, include_kit=False)
    values: dict[str, Any] = {"flush_interval_seconds": 60, "checkpoint_every_seconds": 3600}
    values.update(settings)
    log = AuditLog(AuditSettings(**values), default_key_path=key_path)
    await log.start(db, writer=None if writer is None else writer(db))
    try:
        yield log, db
    finally:
        await log.stop()
        await db.dispose()


def mixed_entries(count: int) -> list[ChainEntry]:
    """Access records and domain events, with the values that are easiest to store wrongly:
    non-UTC offsets, microseconds, non-ASCII text, quotes, NULL columns."""
    entries: list[ChainEntry] = []
    jst = timezone(timedelta(hours=9))
    for i in range(count):
        when = (START + timedelta(seconds=i, microseconds=i * 7)).astimezone(jst)
        if i % 3 == 2:
            entries.append(
                domain_entry(
                    event_id=f"aud_{i}",
                    service="e_application",
                    shipped_by="svc-e_application",
                    occurred_at=when - timedelta(seconds=1),
                    recorded_at=when,
                    actor=None if i % 2 else f"市民-{i}",
                    actor_kind="citizen",
                    roles=["resident"],
                    action="application.submitted",
                    target=f'app "{i}"',
                    changes={"氏名": "山田 太郎", "n": i, "ratio": 0.25},
                    request_id=None,
                )
            )
        else:
            entries.append(
                access_entry(
                    recorded_at=when,
                    actor=None if i % 4 == 0 else f"citizen-{i % 5}",
                    actor_kind=None if i % 4 == 0 else "citizen",
                    roles=[] if i % 4 == 0 else ["resident", "business"],
                    client_ip="::1" if i % 2 else None,
                    method="GET",
                    route=f"/v1/procedures/{{id}}/é{i}",
                    service="e_application",
                    status=200 + i,
                    latency_ms=i,
                    request_id=f"req-{i}" if i % 2 else None,
                )
            )
    return entries


async def stored(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the three chain tables as the database holds it (no type processing:
    on SQLite, the stored text itself)."""
    tables = {
        "log": "SELECT seq, event_id, kind, recorded_at, actor, action, target, service, event,"
        " prev_hash, hash FROM gateway_audit_log ORDER BY seq",
        "checkpoints": "SELECT id, kid, head_seq, head_hash, prev_signature IS NULL"
        " FROM gateway_audit_checkpoints ORDER BY id",
        "head": "SELECT id, seq, hash, checkpoint_seq FROM gateway_audit_head",
    }
    if db.is_sqlite:
        tables["types"] = (
            "SELECT typeof(seq), typeof(event_id), typeof(recorded_at), typeof(actor),"
            " typeof(service), typeof(event), typeof(hash) FROM gateway_audit_log ORDER BY seq"
        )
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with db.engine.connect() as conn:
        for name, query in tables.items():
            out[name] = [tuple(row) for row in await conn.execute(text(query))]
    return out


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


async def test_the_driver_path_is_the_one_chosen_for_each_database(db_url: str) -> None:
    db = Database(db_url)
    try:
        expected = SqliteWriter if db.is_sqlite else PostgresWriter
        assert type(writer_for(db)) is expected
    finally:
        await db.dispose()


async def test_the_drivers_store_exactly_the_rows_sqlalchemy_stores(
    db_url: str, tmp_path: Path
) -> None:
    entries = mixed_entries(40)
    key = tmp_path / "audit-key.json"
    async with running_log(db_url, key, checkpoint_every_events=7) as (log, db):
        for start in range(0, len(entries), 9):  # several appends, checkpoints inside some
            await log.append(entries[start : start + 9])
        await log.checkpoint()
        fast = await stored(db)
        report = await log.verify()
    assert report.ok, report
    (tmp_path / "core").mkdir()
    async with (
        database_url(backend_of(db_url), tmp_path / "core") as core_url,
        running_log(core_url, key, writer=CoreWriter, checkpoint_every_events=7) as (log, db),
    ):
        for start in range(0, len(entries), 9):
            await log.append(entries[start : start + 9])
        await log.checkpoint()
        reference = await stored(db)
        core_report = await log.verify()
    assert core_report.ok, core_report
    assert fast == reference
    assert [row[0] for row in fast["log"]] == list(range(1, 41))
    assert len(fast["checkpoints"]) == 5  # at seq 9, 18, 27 and 36 by count, then at 40


def test_sqlite_timestamps_are_stored_as_sqlalchemy_stores_them() -> None:
    column_type = SQLModel.metadata.tables["gateway_audit_log"].c.recorded_at.type
    dialect = sqlite.dialect()
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    for moment in [
        START,
        datetime(2026, 4, 1, 9, 0, 0, 1, tzinfo=timezone(timedelta(hours=9))),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-11))),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
    ]:
        assert sqlite_datetime(moment) == process(moment)
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime(datetime(2026, 4, 1))


async def test_dedupe_skips_ids_in_the_log_and_repeats_within_the_batch(
    db_url: str, tmp_path: Path
) -> None:
    entries = [e for e in mixed_entries(12) if e.kind == "domain"]
    async with running_log(db_url, tmp_path / "k.json") as (log, _db):
        first = await log.append(entries[:2], dedupe=True)
        again = await log.append([entries[1], entries[2], entries[2], entries[0]], dedupe=True)
        nothing = await log.append(entries[:3], dedupe=True)
        rows = await log.events(limit=10)
    assert (first, again, nothing) == (2, 1, 0)
    assert [row.event_id for row in reversed(rows)] == [e.event_id for e in entries[:3]]


class FailingInsert(Exception):
    pass


async def test_a_failed_transaction_leaves_nothing_and_the_next_one_works(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second chunk's insert fails: the first chunk is rolled back with it, the head does
    not move, and the connection goes back to the pool usable."""
    from gateway.audit_log import store

    monkeypatch.setattr(store, "CHUNK_SIZE", 4)
    entries = mixed_entries(10)
    async with running_log(db_url, tmp_path / "k.json") as (log, db):
        await log.append(entries[:1])
        writer = log.writer
        real = writer.transaction

        @asynccontextmanager
        async def failing_second_insert() -> AsyncIterator[Any]:
            async with real() as transaction:
                inserts = 0
                original = transaction.insert

                async def insert(*args: Any) -> None:
                    nonlocal inserts
                    inserts += 1
                    await original(*args)
                    if inserts == 2:
                        raise FailingInsert

                monkeypatch.setattr(transaction, "insert", insert)
                yield transaction

        monkeypatch.setattr(writer, "transaction", failing_second_insert)
        with pytest.raises(FailingInsert):
            await log.append(entries[1:])
        after_failure = await stored(db)
        monkeypatch.setattr(writer, "transaction", real)
        assert await log.append(entries[1:]) == 9
        report = await log.verify()
    assert [row[0] for row in after_failure["log"]] == [1]
    assert after_failure["head"][0][1] == 1
    assert report.ok, report
    assert report.events == 10


async def test_the_writer_keeps_one_connection_and_gives_it_back_when_stopped(
    db_url: str, tmp_path: Path
) -> None:
    async with running_log(db_url, tmp_path / "k.json") as (log, db):
        for entry in mixed_entries(6):
            await log.append([entry])
        await log.checkpoint()
        held = db.engine.pool.checkedout()  # type: ignore[attr-defined]
        await log.stop()
        after_stop = db.engine.pool.checkedout()  # type: ignore[attr-defined]
        await log.start(db)
        report = await log.verify()
    assert held == 1
    assert after_stop == 0
    assert report.ok, report
    assert report.events == 6


async def test_a_held_connection_that_died_is_replaced(db_url: str, tmp_path: Path) -> None:
    """The writer's connection is closed under it (a server restart, say). PostgreSQL: BEGIN
    fails and is retried once on a fresh connection. SQLite (a file, no server to lose): that
    append fails and the next one gets a fresh connection. Nothing is written twice."""
    entries = mixed_entries(4)
    async with running_log(db_url, tmp_path / "k.json") as (log, db):
        await log.append(entries[:1])
        writer = log.writer
        assert isinstance(writer, SqliteWriter | PostgresWriter)
        await writer._driver.close()
        if db.is_sqlite:
            with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the driver raises
                await log.append(entries[1:2])
            await log.append(entries[1:2])
        else:
            await log.append(entries[1:2])
        await log.append(entries[2:])
        report = await log.verify()
        rows = await log.events(limit=10)
    assert report.ok, report
    assert [row.event_id for row in reversed(rows)] == [e.event_id for e in entries]
