"""Settings, database pragmas, the simulation clock and outbound HTTP context."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import inspect, text

from services.kit.clock import Clock
from services.kit.context import request_id_var, traceparent_var
from services.kit.db import Database
from services.kit.http import build_client
from services.kit.settings import ServiceSettings
from services.payments_mock.settings import Settings as PaymentsSettings


def test_defaults_put_sqlite_under_var_dir() -> None:
    settings = PaymentsSettings(var_dir=Path("/tmp/cityhall-var"))
    assert settings.database_url == "sqlite+aiosqlite:////tmp/cityhall-var/payments_mock.db"
    assert settings.client_id == "svc-payments_mock"
    assert settings.jwks_url == "http://127.0.0.1:8000/.well-known/jwks.json"


def test_env_prefix_is_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENTS_MOCK_PORT", "9104")
    monkeypatch.setenv("E_APPLICATION_PORT", "9101")
    assert PaymentsSettings().port == 9104


def test_production_refuses_development_secrets_and_simulation() -> None:
    with pytest.raises(ValidationError, match="simulation"):
        ServiceSettings(environment="production")
    with pytest.raises(ValidationError, match="client_secret"):
        ServiceSettings(environment="production", simulation=False)
    ok = ServiceSettings(
        environment="production", simulation=False, client_secret=SecretStr("s3cr3t-from-vault")
    )
    assert ok.environment == "production"


def test_secrets_do_not_print() -> None:
    assert "dev-insecure" not in repr(ServiceSettings())


async def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    try:
        async with db.session(write=False) as session:
            mode = (await session.exec(text("PRAGMA journal_mode"))).one()  # type: ignore[call-overload]
            fks = (await session.exec(text("PRAGMA foreign_keys"))).one()  # type: ignore[call-overload]
            busy = (await session.exec(text("PRAGMA busy_timeout"))).one()  # type: ignore[call-overload]
        assert (mode[0], fks[0]) == ("wal", 1)
        assert busy[0] >= 5000
    finally:
        await db.dispose()


SELECT_SQLITE = "SELECT n FROM counter WHERE id = 1"
SELECT_FOR_UPDATE = "SELECT n FROM counter WHERE id = 1 FOR UPDATE"


async def test_concurrent_read_modify_write_never_loses_an_update(db_url: str) -> None:
    """Write sessions take the lock up front (BEGIN IMMEDIATE on SQLite), so 40 concurrent
    increments of one counter all land."""
    db = Database(db_url)
    try:
        async with db.session() as session:
            await session.exec(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))  # type: ignore[call-overload]
            await session.exec(text("INSERT INTO counter VALUES (1, 0)"))  # type: ignore[call-overload]

        async def increment() -> None:
            async with db.session() as session:
                query = SELECT_SQLITE if db.is_sqlite else SELECT_FOR_UPDATE
                row = (await session.exec(text(query))).one()  # type: ignore[call-overload]
                await asyncio.sleep(0)
                await session.exec(
                    text("UPDATE counter SET n = :n WHERE id = 1").bindparams(n=row[0] + 1)
                )  # type: ignore[call-overload]

        await asyncio.gather(*(increment() for _ in range(40)))
        async with db.session(write=False) as session:
            assert (await session.exec(text("SELECT n FROM counter"))).one()[0] == 40  # type: ignore[call-overload]
    finally:
        await db.dispose()


def test_clock_moves_only_forward() -> None:
    clock = Clock()
    before = clock.now()
    clock.advance(timedelta(days=3))
    assert clock.now() - before >= timedelta(days=3)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))
    target = datetime(2030, 1, 1, tzinfo=UTC)
    clock.travel_to(target)
    assert abs((clock.now() - target).total_seconds()) < 1
    with pytest.raises(ValueError, match="forward"):
        clock.travel_to(datetime(2029, 1, 1, tzinfo=UTC))
    assert clock.now_jst().utcoffset() == timedelta(hours=9)


async def test_outbound_calls_carry_request_id_and_trace() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = build_client(transport=httpx.MockTransport(handler))
    request_id_var.set("req-42")
    traceparent_var.set("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    await client.get("http://upstream.test/x")
    await client.aclose()
    [request] = seen
    assert request.headers["x-request-id"] == "req-42"
    _version, trace_id, span_id, _flags = request.headers["traceparent"].split("-")
    assert trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert span_id != "b7ad6b7169203331"


async def test_several_services_can_migrate_at_once_in_one_process(tmp_path: Path) -> None:
    """Alembic keeps module-level state; the kit serialises upgrades within one event loop."""
    from services.alert_mail.app import MIGRATIONS as ALERT_MAIL
    from services.e_application.app import MIGRATIONS as E_APPLICATION
    from services.facility_booking.app import MIGRATIONS as FACILITY_BOOKING
    from services.kit.migrate import upgrade

    histories = [E_APPLICATION, ALERT_MAIL, FACILITY_BOOKING]
    dbs = [Database(f"sqlite+aiosqlite:///{tmp_path}/{i}.db") for i in range(len(histories))]
    try:
        await asyncio.gather(*(upgrade(db.engine, h) for db, h in zip(dbs, histories, strict=True)))
        for db, table in zip(dbs, ["procedures", "categories", "facilities"], strict=True):
            async with db.engine.connect() as conn:
                names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            assert {table, "kit_outbox", "kit_idempotency"} <= set(names)
    finally:
        for db in dbs:
            await db.dispose()


async def test_a_read_session_ends_its_snapshot_before_the_connection_is_used_again(
    tmp_path: Path,
) -> None:
    """A read transaction's COMMIT is not waited for (kit.sqlite_driver); the next session on
    the same pooled connection still starts after it, so it sees every later write and its
    BEGIN never lands inside the old transaction."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    count, insert = text("SELECT count(*) FROM t"), text("INSERT INTO t (n) VALUES (:n)")
    try:
        async with db.session() as session:
            await (await session.connection()).execute(text("CREATE TABLE t (n INTEGER)"))
        for n in range(1, 30):
            async with db.session(write=False) as session:
                seen = (await (await session.connection()).execute(count)).scalar_one()
                assert seen == n - 1
            async with db.session() as session:
                await (await session.connection()).execute(insert, {"n": n})
        async with db.session(write=False) as session:
            seen = (await (await session.connection()).execute(count)).scalar_one()
        assert seen == 29
        async with db.engine.connect() as conn:  # the pool's connection, not in a transaction
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is not None
            in_transaction = await raw.driver_connection._execute(
                lambda: raw.driver_connection._conn.in_transaction
            )
            assert in_transaction is False
    finally:
        await db.dispose()
