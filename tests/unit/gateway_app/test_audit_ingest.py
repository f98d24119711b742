"""Audit events shipped by services: stored once each, whatever the redeliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import col, func, select

from gateway.tables import AuditEventRecord
from services.kit.audit import AuditShipper
from services.kit.http import build_client
from services.kit.service_token import ServiceTokenProvider
from services.kit.settings import dev_secret
from services.kit.tables import OutboxMessage

from .support import Gateway, GatewayFactory


def event(event_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": event_id,
        "occurred_at": datetime(2026, 11, 21, 9, 0, tzinfo=UTC).isoformat(),
        "service": "e_application",
        "actor": "user-1",
        "actor_kind": "citizen",
        "roles": [],
        "action": "application.submitted",
        "target": "app_01",
        "changes": {"state": ["draft", "submitted"]},
        "request_id": "req-1",
    }
    values.update(overrides)
    return values


def service_headers(gw: Gateway, scopes: tuple[str, ...] = ("audit:write",)) -> dict[str, str]:
    token = gw.token(sub="svc-e_application", kind="service", scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


async def stored_ids(gw: Gateway) -> list[str]:
    db = gw.runtime.db
    assert db is not None
    async with db.session(write=False) as session:
        rows = await session.exec(
            select(AuditEventRecord)
            .where(col(AuditEventRecord.kind) == "domain")  # not the access records
            .order_by(col(AuditEventRecord.seq))
        )
        return [row.event_id for row in rows]


async def test_redelivered_events_are_accepted_and_ignored(
    make_gateway: GatewayFactory, db_url: str
) -> None:
    """On SQLite, and on PostgreSQL when CITYHALL_TEST_POSTGRES_URL is set."""
    async with make_gateway(database_url=db_url) as gw:
        headers = service_headers(gw)
        first = await gw.client.post(
            "/internal/audit/events",
            json={"events": [event("aud_1"), event("aud_2")]},
            headers=headers,
        )
        again = await gw.client.post(
            "/internal/audit/events",
            json={"events": [event("aud_2"), event("aud_3"), event("aud_3")]},
            headers=headers,
        )
        ids = await stored_ids(gw)
    assert first.status_code == 202
    assert first.json() == {"accepted": 2, "duplicates": 0}
    assert again.status_code == 202
    assert again.json() == {"accepted": 1, "duplicates": 2}
    assert ids == ["aud_1", "aud_2", "aud_3"]


async def test_event_shape_is_validated(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        headers = service_headers(gw)
        unknown_field = await gw.client.post(
            "/internal/audit/events",
            json={"events": [event("aud_1", password="x")]},
            headers=headers,
        )
        naive_time = await gw.client.post(
            "/internal/audit/events",
            json={"events": [event("aud_1", occurred_at="2026-11-21T09:00:00")]},
            headers=headers,
        )
        huge = await gw.client.post(
            "/internal/audit/events",
            json={"events": [event("aud_1", changes={"blob": "x" * 20_000})]},
            headers=headers,
        )
        empty = await gw.client.post("/internal/audit/events", json={"events": []}, headers=headers)
        foreign = await gw.client.post(
            "/internal/audit/events",
            json={"events": [event("aud_1", service="payments_mock")]},
            headers=headers,
        )
        ids = await stored_ids(gw)
    for response in (unknown_field, naive_time, huge, empty, foreign):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    assert unknown_field.json()["errors"][0]["field"] == "events.0.password"
    assert foreign.json()["errors"][0]["field"] == "events.0.service"
    assert ids == []


async def test_only_service_clients_with_audit_write_may_ship(
    make_gateway: GatewayFactory,
) -> None:
    body = {"events": [event("aud_1")]}
    async with make_gateway() as gw:
        anonymous = await gw.client.post("/internal/audit/events", json=body)
        no_scope = await gw.client.post(
            "/internal/audit/events", json=body, headers=service_headers(gw, scopes=())
        )
        citizen = await gw.client.post(
            "/internal/audit/events",
            json=body,
            headers={"Authorization": f"Bearer {gw.token()}"},
        )
    assert anonymous.status_code == 401
    assert no_scope.status_code == 403
    assert citizen.status_code == 403


async def test_the_kit_audit_shipper_delivers_through_the_token_endpoint(
    make_gateway: GatewayFactory,
) -> None:
    """The services' real shipper: client_credentials token, then the batch, twice."""
    async with make_gateway() as gw:
        client = build_client(transport=httpx.ASGITransport(gw.app))
        tokens = ServiceTokenProvider(
            client,
            token_url="http://gateway.test/auth/token",
            client_id="svc-e_application",
            client_secret=dev_secret("client").get_secret_value(),
        )
        shipper = AuditShipper(client, "http://gateway.test", tokens, "e_application")
        now = datetime.now(UTC)
        messages: Sequence[OutboxMessage] = [
            OutboxMessage(
                id=f"aud_{i}",
                topic="audit",
                payload=event(f"aud_{i}"),
                next_attempt_at=now,
                created_at=now,
            )
            for i in range(3)
        ]
        async with client:
            assert await shipper(messages) == [None, None, None]
            assert await shipper(messages) == [None, None, None]
        db = gw.runtime.db
        assert db is not None
        async with db.session(write=False) as session:
            count = (
                await session.exec(
                    select(func.count())
                    .select_from(AuditEventRecord)
                    .where(col(AuditEventRecord.kind) == "domain")
                )
            ).one()
    assert count == 3
