"""The chained audit log in the database: what goes in, and that tampering is detected.

Access records (proxied requests, the gateway's own routes) and shipped domain events share
one chain; editing, deleting, inserting or reordering a row, or forging or swapping a
checkpoint, directly in the database is reported by `GET /audit/verify`; an export verifies
offline and `cityhall audit verify` catches the same tampering in the file. On SQLite, and on
PostgreSQL when CITYHALL_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from deploy.cli import app as cli_app
from gateway.audit_chain.canonical import canonical_json
from gateway.audit_chain.chain import ChainLink, append
from gateway.audit_chain.checkpoint import b64url_encode, checkpoint_payload
from gateway.audit_chain.export import jwk_to_public_key, verify_export
from gateway.audit_log import store
from gateway.audit_log.events import ChainEntry, access_entry, mask_path, route_template
from gateway.audit_log.settings import AuditSettings
from gateway.audit_log.store import AuditLog
from services.kit.db import Database
from services.kit.tasks import cancel_and_wait
from tests.support.progress import until_done

from .support import Gateway, GatewayFactory, Upstream
from .test_audit_ingest import event, service_headers

runner = CliRunner()


def audit_of(gw: Gateway) -> AuditLog:
    log: AuditLog = gw.app.state.audit_log
    return log


def auditor(gw: Gateway) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {gw.token(sub='auditor-1', kind='staff', roles=('auditor',))}"
    }


def settings_for(upstream: Upstream, db_url: str, **audit: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"flush_interval_seconds": 60.0, "checkpoint_every_seconds": 3600.0}
    values.update(audit)
    return {
        "database_url": db_url,
        "upstreams": {"alpha": upstream.url},
        "routes": {"/v1/echo": "alpha"},
        "audit": AuditSettings(**values),
    }


async def chain(gw: Gateway, **filters: str) -> list[dict[str, Any]]:
    """Every record, oldest first (walking the cursor pages)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **filters}
        if cursor:
            params["cursor"] = cursor
        page = await gw.client.get("/audit/events", params=params, headers=auditor(gw))
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return list(reversed(items))


async def test_route_templates_mask_ids() -> None:
    assert route_template("/v1/payments", "/v1/payments") == "/v1/payments"
    assert route_template("/v1/payments", "/v1/payments/pay_01H9/refund") == (
        "/v1/payments/{id}/refund"
    )
    assert mask_path("/v1/x/12345/tanaka@example.jp/山田") == "/v1/x/{id}/{id}/{id}"


async def test_proxied_requests_and_domain_events_share_one_chain_in_order(
    make_gateway: GatewayFactory, upstream: Upstream, db_url: str
) -> None:
    async with make_gateway(**settings_for(upstream, db_url, checkpoint_every_events=3)) as gw:
        citizen = gw.token(sub="citizen-7", roles=("resident",))
        first = await gw.client.get(
            "/v1/echo/pay_01ABC?q=secret-query",
            headers={"Authorization": f"Bearer {citizen}", "X-Request-ID": "req-first"},
        )
        await audit_of(gw).flush()
        shipped = await gw.client.post(
            "/internal/audit/events",
            json={"events": [event("aud_1"), event("aud_2", changes={"ratio": 0.5})]},
            headers=service_headers(gw),
        )
        second = await gw.client.post(
            "/v1/echo/app_9/cancel", json={}, headers={"X-Request-ID": "r2"}
        )
        await audit_of(gw).flush()
        records = await chain(gw)
        domain_only = await chain(gw, kind="domain")
        by_actor = await chain(gw, actor="citizen-7")
        verified = await gw.client.get("/audit/verify", headers=auditor(gw))
    assert first.status_code == 200
    assert second.status_code == 200
    assert shipped.status_code == 202
    events = [r["event"] for r in records]
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(1, len(seqs) + 1))
    proxied = [e for e in events if e["kind"] == "access" and e["service"] == "alpha"]
    assert proxied[0] == {
        "kind": "access",
        "id": proxied[0]["id"],
        "recorded_at": proxied[0]["recorded_at"],
        "actor": "citizen-7",
        "actor_kind": "citizen",
        "roles": ["resident"],
        "client_ip": "127.0.0.1",
        "method": "GET",
        "route": "/v1/echo/{id}",
        "service": "alpha",
        "status": 200,
        "latency_ms": proxied[0]["latency_ms"],
        "request_id": "req-first",
    }
    assert proxied[1]["route"] == "/v1/echo/{id}/cancel"
    assert proxied[1]["actor"] is None
    assert proxied[1]["method"] == "POST"
    # Order: the first proxied request, then the shipped events, then the second request.
    order = [
        e.get("request_id") if e["kind"] == "access" else e["id"]
        for e in events
        if e["kind"] == "domain" or e["service"] == "alpha"
    ]
    assert order == ["req-first", "aud_1", "aud_2", "r2"]
    assert [e["id"] for e in (r["event"] for r in domain_only)] == ["aud_1", "aud_2"]
    assert domain_only[1]["event"]["changes"] == {"ratio": "0.5"}  # floats kept as text
    assert {r["event"]["actor"] for r in by_actor} == {"citizen-7"}
    # The ingest call itself is an access record of the gateway's own route.
    assert any(e.get("route") == "/internal/audit/events" for e in events)
    assert verified.status_code == 200
    report = verified.json()
    assert report["ok"] is True, report
    assert report["checkpoints"] >= 1
    assert report["events"] == len(seqs)


async def test_only_auditors_read_the_log(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        citizen = {"Authorization": f"Bearer {gw.token()}"}
        staff = {"Authorization": f"Bearer {gw.token(kind='staff', roles=('clerk',))}"}
        admin = {"Authorization": f"Bearer {gw.token(kind='staff', roles=('admin',))}"}
        anonymous = await gw.client.get("/audit/events")
        as_citizen = await gw.client.get("/audit/verify", headers=citizen)
        as_clerk = await gw.client.get("/audit/export", headers=staff)
        as_admin = await gw.client.get("/audit/events", headers=admin)
        keys = await gw.client.get("/audit/keys")
        bad_cursor = await gw.client.get("/audit/events?cursor=abc", headers=admin)
    assert anonymous.status_code == 401
    assert as_citizen.status_code == 403
    assert as_clerk.status_code == 403
    assert as_admin.status_code == 200
    assert keys.status_code == 200
    assert keys.json()["keys"][0]["crv"] == "Ed25519"
    assert bad_cursor.status_code == 422


async def test_no_body_token_or_password_is_ever_stored(
    make_gateway: GatewayFactory, upstream: Upstream, db_url: str
) -> None:
    async with make_gateway(**settings_for(upstream, db_url)) as gw:
        token = gw.token(sub="citizen-1")
        response = await gw.client.post(
            "/v1/echo/login?password=hunter2-in-query",
            json={"email": "a@example.jp", "password": "hunter2-in-body"},
            headers={"Authorization": f"Bearer {token}", "Cookie": "session=cookie-secret"},
        )
        form = await gw.client.post(
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "svc-e_application",
                "client_secret": "wrong-client-secret-xyz",
            },
        )
        await audit_of(gw).flush()
        await audit_of(gw).checkpoint()
        db = gw.runtime.db
        assert db is not None
        dump: list[str] = []
        async with db.engine.connect() as conn:
            for table in ("gateway_audit_log", "gateway_audit_checkpoints", "gateway_audit_head"):
                rows = await conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
                dump.extend(repr(tuple(row)) for row in rows)
    assert response.status_code == 200
    assert form.status_code == 401
    whole = "\n".join(dump)
    assert "citizen-1" in whole  # the actor is there...
    for secret in (
        "hunter2",
        "cookie-secret",
        "wrong-client-secret",
        "a@example.jp",
        token,
        token.split(".")[2],  # not even the signature part
        "login?",
    ):
        assert secret not in whole


async def tamper_edit(conn: Any) -> None:
    await conn.execute(
        text("UPDATE gateway_audit_log SET event = replace(event, 'GET', 'PUT') WHERE seq = 2")
    )


async def tamper_delete(conn: Any) -> None:
    await conn.execute(text("DELETE FROM gateway_audit_log WHERE seq = 3"))


async def _shift_up_from(conn: Any, seq: int) -> None:
    await conn.execute(
        text("UPDATE gateway_audit_log SET seq = seq + 1000 WHERE seq >= :s"), {"s": seq}
    )
    await conn.execute(text("UPDATE gateway_audit_log SET seq = seq - 999 WHERE seq >= 1000"))


async def tamper_insert(conn: Any) -> None:
    """A forged record, correctly chained to its predecessor, slipped in at seq 3."""
    row = (
        await conn.execute(text("SELECT event, hash FROM gateway_audit_log WHERE seq = 2"))
    ).one()
    prev = ChainLink(2, json.loads(row[0]), "0" * 64, row[1])
    forged = append(prev, {"kind": "domain", "id": "aud_forged", "action": "nothing.happened"})
    await _shift_up_from(conn, 3)
    await conn.execute(
        text(
            "INSERT INTO gateway_audit_log (seq, event_id, kind, recorded_at, action, target,"
            " event, prev_hash, hash) VALUES (3, 'aud_forged', 'domain', :at, 'x', 'y', :event,"
            " :prev, :hash)"
        ),
        {
            "at": (await _any_time(conn)),
            "event": canonical_json(forged.event),
            "prev": forged.prev_hash,
            "hash": forged.hash,
        },
    )


async def _any_time(conn: Any) -> Any:
    return (await conn.execute(text("SELECT recorded_at FROM gateway_audit_log LIMIT 1"))).scalar()


async def tamper_swap(conn: Any) -> None:
    await conn.execute(text("UPDATE gateway_audit_log SET seq = -2 WHERE seq = 2"))
    await conn.execute(text("UPDATE gateway_audit_log SET seq = 2 WHERE seq = 3"))
    await conn.execute(text("UPDATE gateway_audit_log SET seq = 3 WHERE seq = -2"))


async def tamper_checkpoint_signature(conn: Any) -> None:
    """Re-signed with a key that is not the gateway's (same kid, same payload)."""
    row = (
        await conn.execute(
            text(
                "SELECT kid, head_seq, head_hash, issued_at, prev_signature FROM"
                " gateway_audit_checkpoints ORDER BY id LIMIT 1"
            )
        )
    ).one()
    forged = b64url_encode(Ed25519PrivateKey.generate().sign(checkpoint_payload(*row)))
    await conn.execute(
        text(
            "UPDATE gateway_audit_checkpoints SET signature = :s WHERE id ="
            " (SELECT min(id) FROM gateway_audit_checkpoints)"
        ),
        {"s": forged},
    )


async def tamper_swap_checkpoints(conn: Any) -> None:
    ids = [
        r[0]
        for r in await conn.execute(text("SELECT id FROM gateway_audit_checkpoints ORDER BY id"))
    ]
    a, b = ids[0], ids[1]
    await conn.execute(text("UPDATE gateway_audit_checkpoints SET id = -1 WHERE id = :a"), {"a": a})
    await conn.execute(
        text("UPDATE gateway_audit_checkpoints SET id = :a WHERE id = :b"), {"a": a, "b": b}
    )
    await conn.execute(text("UPDATE gateway_audit_checkpoints SET id = :b WHERE id = -1"), {"b": b})


Tamper = Callable[[Any], Awaitable[None]]


async def build_log(gw: Gateway, upstream_calls: int = 2) -> None:
    """Eight domain events in four batches and some access records, checkpointed every three
    events."""
    for i in range(upstream_calls):
        await gw.client.get(f"/v1/echo/item_{i}")
    await audit_of(gw).flush()
    for batch in range(4):
        response = await gw.client.post(
            "/internal/audit/events",
            json={"events": [event(f"aud_{batch}{i}", target=f"app_{batch}{i}") for i in range(2)]},
            headers=service_headers(gw),
        )
        assert response.status_code == 202
    await audit_of(gw).flush()
    await audit_of(gw).checkpoint(only_if_new=True)


@pytest.mark.parametrize(
    ("tamper", "first_bad_max"),
    [
        (tamper_edit, 2),
        (tamper_delete, 3),
        (tamper_insert, 4),
        (tamper_swap, 2),
        (tamper_checkpoint_signature, 1),
        (tamper_swap_checkpoints, 4),
    ],
    ids=["edit", "delete", "insert", "reorder", "forged-checkpoint", "swapped-checkpoints"],
)
async def test_tampering_in_the_database_is_reported(
    make_gateway: GatewayFactory,
    upstream: Upstream,
    db_url: str,
    tamper: Tamper,
    first_bad_max: int,
) -> None:
    async with make_gateway(**settings_for(upstream, db_url, checkpoint_every_events=3)) as gw:
        await build_log(gw)
        before = (await gw.client.get("/audit/verify", headers=auditor(gw))).json()
        db = gw.runtime.db
        assert db is not None
        async with db.engine.begin() as conn:
            await tamper(conn)
        after = (await gw.client.get("/audit/verify", headers=auditor(gw))).json()
    assert before["ok"] is True, before
    assert before["unanchored_tail"] == 0
    assert after["ok"] is False, after
    assert after["first_bad_seq"] is not None
    assert 1 <= after["first_bad_seq"] <= first_bad_max
    assert after["reason"]


async def test_export_verifies_offline_and_the_cli_catches_tampering_in_the_file(
    make_gateway: GatewayFactory, upstream: Upstream, db_url: str, tmp_path: Path
) -> None:
    async with make_gateway(**settings_for(upstream, db_url, checkpoint_every_events=3)) as gw:
        await build_log(gw)
        exported = await gw.client.get("/audit/export", headers=auditor(gw))
        keys = (await gw.client.get("/audit/keys")).json()
    assert exported.status_code == 200
    lines = exported.text.splitlines(keepends=True)
    trusted = dict(jwk_to_public_key(jwk) for jwk in keys["keys"])
    report = verify_export(lines, trusted)
    assert report.ok, report
    assert report.checkpoints >= 3
    assert report.unanchored_tail == 0
    key_file = tmp_path / "audit-key.jwks"
    key_file.write_text(json.dumps(keys))
    good = tmp_path / "good.jsonl"
    good.write_text("".join(lines))
    ok = runner.invoke(cli_app, ["audit", "verify", str(good), "--key", str(key_file)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK")

    event_lines = [i for i, line in enumerate(lines) if '"type":"event"' in line]
    checkpoint_lines = [i for i, line in enumerate(lines) if '"type":"checkpoint"' in line]
    edited = list(lines)
    edited[event_lines[1]] = edited[event_lines[1]].replace('"status":200', '"status":201')
    deleted = [line for i, line in enumerate(lines) if i != event_lines[2]]
    reordered = list(lines)
    a, b = event_lines[3], event_lines[4]
    reordered[a], reordered[b] = reordered[b], reordered[a]
    checkpoint = json.loads(lines[checkpoint_lines[0]])
    checkpoint["signature"] = b64url_encode(bytes(64))
    forged = list(lines)
    forged[checkpoint_lines[0]] = canonical_json(checkpoint) + "\n"
    swapped = list(lines)
    c, d = checkpoint_lines[0], checkpoint_lines[1]
    swapped[c], swapped[d] = swapped[d], swapped[c]
    for name, variant in {
        "edited": edited,
        "deleted": deleted,
        "reordered": reordered,
        "forged": forged,
        "swapped": swapped,
    }.items():
        assert variant != lines, name
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(variant))
        result = runner.invoke(cli_app, ["audit", "verify", str(path), "--key", str(key_file)])
        assert result.exit_code == 1, (name, result.output)
        assert result.output.startswith("TAMPERED"), (name, result.output)


async def test_checkpoints_by_count_and_by_time_even_when_idle(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    async with make_gateway(
        audit=AuditSettings(checkpoint_every_events=2, checkpoint_every_seconds=0.2)
    ) as gw:
        log = audit_of(gw)
        key_file = log.key_path
        db = gw.runtime.db
        assert db is not None

        async def checkpoints() -> int:
            async with db.engine.connect() as conn:
                query = text("SELECT count(*) FROM gateway_audit_checkpoints")
                return int((await conn.execute(query)).scalar_one())

        async def two_heartbeats() -> bool:
            return await checkpoints() >= 2

        # nothing logged: heartbeats still sign the (empty) head, however slowly the box runs
        await until_done(two_heartbeats, checkpoints, what="idle checkpoints")
        idle = await checkpoints()
        verified = (await gw.client.get("/audit/verify", headers=auditor(gw))).json()
    assert idle >= 2
    assert verified["ok"] is True
    assert verified["checkpoints"] >= 2
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.parent == tmp_path / "gateway"


def get_x(latency_ms: int, actor: str | None = None) -> ChainEntry:
    """An access record of `GET /x` (the writer tests tell records apart by latency)."""
    return access_entry(
        recorded_at=datetime.now(UTC),
        actor=actor,
        actor_kind=None,
        roles=[],
        client_ip=None,
        method="GET",
        route="/x",
        service="gateway",
        status=200,
        latency_ms=latency_ms,
        request_id=None,
    )


async def test_two_writers_on_one_database_never_fork_the_chain(
    db_url: str, tmp_path: Path
) -> None:
    """Two gateway replicas (two AuditLog writers with their own engines) appending at once."""
    from gateway.app import MIGRATIONS
    from services.kit.migrate import upgrade

    databases = [Database(db_url), Database(db_url)]
    await upgrade(databases[0].engine, MIGRATIONS, include_kit=False)
    settings = AuditSettings(checkpoint_every_events=7, checkpoint_every_seconds=3600)
    logs = [AuditLog(settings, default_key_path=tmp_path / "audit-key.json") for _ in databases]
    try:
        for log, db in zip(logs, databases, strict=True):
            await log.start(db)

        async def write(log: AuditLog, replica: int) -> None:
            for i in range(10):
                await log.append([get_x(i, actor=f"r{replica}")])

        await asyncio.gather(*(write(log, n) for n, log in enumerate(logs)))
        report = await logs[0].verify()
    finally:
        for log in logs:
            await log.stop()
        for db in databases:
            await db.dispose()
    assert report.ok, report
    assert report.events == 20


async def test_the_background_flush_leaves_late_records_for_the_next_batch(
    db_url: str, tmp_path: Path
) -> None:
    """Under load a flusher that chased its queue wrote a transaction for every few records
    (measured: ~5 per transaction at 300 requests/s, most of the gateway's CPU)."""
    from gateway.app import MIGRATIONS
    from services.kit.migrate import upgrade

    db = Database(db_url)
    await upgrade(db.engine, MIGRATIONS, include_kit=False)
    log = AuditLog(
        AuditSettings(flush_interval_seconds=60, checkpoint_every_seconds=3600),
        default_key_path=tmp_path / "audit-key.json",
    )
    await log.start(db)
    try:
        for i in range(3):
            log.record_access(get_x(i))
        flushing = asyncio.create_task(log.flush(only_queued_now=True))
        await asyncio.sleep(0)  # the flush took its count and is inside its transaction
        for i in range(3, 5):
            log.record_access(get_x(i))
        assert await flushing == 3
        assert log.queued == 2
        assert await log.flush() == 2  # an explicit flush drains everything
        report = await log.verify()
    finally:
        await log.stop()
        await db.dispose()
    assert report.ok
    assert report.events == 5


async def _stop_at_many_points(log: AuditLog, db: Database, rounds: int, per_round: int) -> None:
    for stop_after in range(rounds):
        await log.start(db)
        for i in range(per_round):
            log.record_access(get_x(i))
        for _ in range(stop_after):  # the flusher (woken: batch_size=1) is writing
            await asyncio.sleep(0)
        await log.stop()


async def test_stopping_while_the_flusher_writes_loses_nothing(db_url: str, tmp_path: Path) -> None:
    """stop() used to cancel the flusher mid-transaction; on SQLite a cancelled BEGIN
    IMMEDIATE could keep the lock, and the final flush then failed ("database is locked") or,
    stopped again and again as here, hung: records lost."""
    from gateway.app import MIGRATIONS
    from services.kit.migrate import upgrade

    db = Database(db_url)
    await upgrade(db.engine, MIGRATIONS, include_kit=False)
    path = tmp_path / "audit-key.json"
    log = AuditLog(
        AuditSettings(batch_size=1, checkpoint_every_seconds=3600), default_key_path=path
    )
    rounds, per_round = 30, 4
    try:
        await _stop_at_many_points(log, db, rounds, per_round)  # the old stop() hung here
        await log.start(db)
        report = await log.verify()
    finally:
        await log.stop()
        await db.dispose()
    assert report.ok
    assert report.events == rounds * per_round


@asynccontextmanager
async def started_log(
    db_url: str, tmp_path: Path, **settings: Any
) -> AsyncIterator[tuple[AuditLog, Database]]:
    from gateway.app import MIGRATIONS
    from services.kit.migrate import upgrade

    db = Database(db_url)
    await upgrade(db.engine, MIGRATIONS, include_kit=False)
    values: dict[str, Any] = {"flush_interval_seconds": 60, "checkpoint_every_seconds": 3600}
    values.update(settings)
    log = AuditLog(AuditSettings(**values), default_key_path=tmp_path / "audit-key.json")
    await log.start(db)
    try:
        yield log, db
    finally:
        await log.stop()
        await db.dispose()


async def latencies(log: AuditLog) -> list[int]:
    """The access records' latency_ms (the tests' record numbers), oldest first."""
    rows = await log.events(limit=100_000)
    numbers = [json.loads(row.event)["latency_ms"] for row in reversed(rows)]
    assert [row.seq for row in reversed(rows)] == list(range(1, len(rows) + 1))
    return numbers


def watch_inserts(
    log: AuditLog,
    monkeypatch: pytest.MonkeyPatch,
    on_insert: Callable[[int], Awaitable[None]],
) -> None:
    """Calls `on_insert(n)` after the n-th chunk insert (counted across transactions)."""
    writer = log.writer
    real = writer.transaction
    count = 0

    @asynccontextmanager
    async def watched() -> AsyncIterator[Any]:
        async with real() as transaction:
            original = transaction.insert

            async def insert(*args: Any) -> None:
                nonlocal count
                await original(*args)
                count += 1
                await on_insert(count)

            monkeypatch.setattr(transaction, "insert", insert)
            yield transaction

    monkeypatch.setattr(writer, "transaction", watched)


async def test_a_chunked_flush_writes_everything_in_order(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 5 (a transaction each), inserted 3 at a time; the event loop runs other
    tasks between two chunks of one transaction."""
    monkeypatch.setattr(store, "CHUNK_SIZE", 3)
    async with started_log(db_url, tmp_path, batch_size=5) as (log, _db):
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        seen_ticks: list[int] = []

        async def note(_n: int) -> None:
            seen_ticks.append(ticks)

        watch_inserts(log, monkeypatch, note)
        for i in range(17):
            log.record_access(get_x(i))
        ticking = asyncio.create_task(ticker())
        try:
            written = await log.flush()
        finally:
            await cancel_and_wait(ticking)
        queued = log.queued
        numbers = await latencies(log)
        report = await log.verify()
    assert written == 17
    assert queued == 0
    assert numbers == list(range(17))
    assert len(seen_ticks) == 7  # batches of 3 + 2 records three times, then one of 2
    assert all(b > a for a, b in itertools.pairwise(seen_ticks))
    assert report.ok, report


async def test_a_failed_chunk_keeps_the_unwritten_records_queued(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second batch fails in its second chunk: the first batch stays written, the whole
    second batch (its first chunk included) is rolled back and stays queued, in order, with
    what came after; written again, no record is missing or doubled."""
    monkeypatch.setattr(store, "CHUNK_SIZE", 2)
    async with started_log(db_url, tmp_path, batch_size=5) as (log, _db):
        failed_once = False

        async def fail_fifth(n: int) -> None:
            nonlocal failed_once
            if n == 5:  # batch 1: inserts 1-3 (2 + 2 + 1 records); batch 2: 4 and 5
                failed_once = True
                raise RuntimeError("the database went away")

        watch_inserts(log, monkeypatch, fail_fifth)
        for i in range(12):
            log.record_access(get_x(i))
        with pytest.raises(RuntimeError, match="went away"):
            await log.flush()
        queued = [e if isinstance(e, ChainEntry) else e() for e in log._queue]
        queued_after_failure = [json.loads(entry.canonical)["latency_ms"] for entry in queued]
        await log.flush()  # the retry (or the background flusher's): inserts 5+ do not fail
        queued_after_retry = log.queued
        numbers = await latencies(log)
        report = await log.verify()
    assert failed_once
    assert queued_after_failure == list(range(5, 12))
    assert queued_after_retry == 0
    assert numbers == list(range(12))
    assert report.ok, report


async def test_a_batch_committed_whose_answer_was_lost_is_not_written_twice_or_stuck(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit of a batch happens but the flush sees an error (the connection dropped
    as the answer came back): the batch stays queued, and the next flush must skip what got
    in, or the unique event ids refuse the batch on every try and the queue never drains."""
    async with started_log(db_url, tmp_path, batch_size=5) as (log, _db):
        writer = log.writer
        real = writer.transaction
        lost_answers = 0

        @asynccontextmanager
        async def answer_lost_once() -> AsyncIterator[Any]:
            nonlocal lost_answers
            async with real() as transaction:
                yield transaction
            if lost_answers == 0:
                lost_answers += 1
                raise ConnectionResetError("connection lost after COMMIT was sent")

        monkeypatch.setattr(writer, "transaction", answer_lost_once)
        for i in range(8):
            log.record_access(get_x(i))
        with pytest.raises(ConnectionResetError):
            await log.flush()
        assert log.queued == 8  # as far as the flush knows, nothing was written
        await log.flush()
        assert log.queued == 0
        numbers = await latencies(log)
        report = await log.verify()
    assert lost_answers == 1
    assert numbers == list(range(8))
    assert report.ok, report


async def test_stopping_during_a_chunked_flush_loses_nothing(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stop() while the background flusher is between two chunks of a batch, with more
    records arriving meanwhile: the flusher finishes its batch, stop() writes the rest."""
    monkeypatch.setattr(store, "CHUNK_SIZE", 4)
    async with started_log(db_url, tmp_path, batch_size=20) as (log, db):
        mid_flush = asyncio.Event()
        resume = asyncio.Event()

        async def pause_after_first(n: int) -> None:
            if n == 1:
                mid_flush.set()
                await resume.wait()

        watch_inserts(log, monkeypatch, pause_after_first)
        for i in range(30):
            log.record_access(get_x(i))  # 20 wake the flusher
        await mid_flush.wait()
        for i in range(30, 45):
            log.record_access(get_x(i))
        stopping = asyncio.create_task(log.stop())
        await asyncio.sleep(0)
        resume.set()
        await stopping
        await log.start(db)
        numbers = await latencies(log)
        report = await log.verify()
    assert numbers == list(range(45))
    assert report.ok, report
