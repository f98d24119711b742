"""Idempotency-Key through a real service app (create_service_app), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert
from sqlmodel import select
from starlette.responses import Response

from services.kit.app import RuntimeOptions, ServiceRuntime, ServiceSpec, create_service_app
from services.kit.auth import AnyPrincipal
from services.kit.clock import Clock
from services.kit.deps import SessionDep
from services.kit.errors import Conflict
from services.kit.idempotency import (
    KEY_HEADER,
    PURGE_JOB,
    REPLAYED_HEADER,
    Idempotency,
    IdempotencyConfig,
    canonical_json,
)
from services.kit.ids import new_id
from services.kit.jobs import Scheduler
from services.kit.settings import ServiceSettings
from services.kit.tables import IdempotencyRecord
from tests.support.apps import running
from tests.support.tokens import TokenFactory
from tests.unit.kit.kitdb import EMPTY_MIGRATIONS

metadata = MetaData()
widgets = Table(
    "kit_test_widgets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("size", Integer, nullable=False),
)


class WidgetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    size: int = 1


class WidgetRead(BaseModel):
    id: str
    owner: str
    name: str
    size: int


COLLECTION_LINK = '</v1/widgets>; rel="collection"'


@dataclass
class Behaviour:
    """What the test route does next: fail once, forget complete(), or linger."""

    fail_next: bool = False
    work_seconds: float = 0.0
    calls: list[str] = field(default_factory=list)
    working: asyncio.Event = field(default_factory=asyncio.Event)  # a call holds its key


def widget_router(behaviour: Behaviour) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/widgets", response_model=WidgetRead, status_code=201)
    async def create_widget(
        body: WidgetCreate, principal: AnyPrincipal, session: SessionDep, idem: Idempotency
    ) -> Response:
        if (replay := await idem.begin(body)) is not None:
            return replay
        behaviour.calls.append(body.name)
        behaviour.working.set()
        widget = WidgetRead(id=new_id("wdg"), owner=principal.sub, name=body.name, size=body.size)
        await session.exec(insert(widgets).values(**widget.model_dump()))
        if behaviour.work_seconds:
            await asyncio.sleep(behaviour.work_seconds)
        if behaviour.fail_next:
            behaviour.fail_next = False
            raise Conflict("the widget factory is busy")
        return await idem.complete(
            201,
            widget,
            location=f"/v1/widgets/{widget.id}",
            headers=[("Link", COLLECTION_LINK), ("Set-Cookie", "seen=1")],
        )

    @router.post("/v1/forgetful", status_code=201)
    async def forgets_complete(
        body: WidgetCreate, principal: AnyPrincipal, session: SessionDep, idem: Idempotency
    ) -> dict[str, Any]:
        if await idem.begin(body) is not None:
            return {"replayed": True}
        await session.exec(
            insert(widgets).values(id=new_id("wdg"), owner=principal.sub, name=body.name, size=0)
        )
        return {"created": True}  # forgot idem.complete()

    return router


async def _create_widget_table(app: FastAPI, runtime: ServiceRuntime) -> None:
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    app.state.idempotency_config = IdempotencyConfig(wait=5.0)


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: TokenFactory
    behaviour: Behaviour

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    async def post(
        self,
        body: dict[str, Any],
        key: str | None = None,
        *,
        sub: str = "cit_alice",
        path: str = "/v1/widgets",
    ) -> httpx.Response:
        headers = self.tokens.citizen(sub)
        if key is not None:
            headers[KEY_HEADER] = key
        return await self.client.post(path, json=body, headers=headers)

    async def widget_count(self) -> int:
        async with self.runtime.db.session(write=False) as session:
            count = select(func.count()).select_from(widgets)
            return int((await session.exec(count)).one())

    async def key_rows(self) -> list[IdempotencyRecord]:
        async with self.runtime.db.session(write=False) as session:
            return list((await session.exec(select(IdempotencyRecord))).all())


@pytest.fixture
async def harness(db_url: str, tokens: TokenFactory) -> AsyncIterator[Harness]:
    behaviour = Behaviour()
    spec = ServiceSpec(
        name="kittest",
        title="kit test",
        description="idempotency test app",
        settings=ServiceSettings(
            service_name="kittest", database_url=db_url, environment="test", log_access=False
        ),
        routers=[widget_router(behaviour)],
        migrations=EMPTY_MIGRATIONS,
        on_startup=[_create_widget_table],
        options=RuntimeOptions(key_source=tokens.key_source(), background=False),
    )
    app = create_service_app(spec)
    async with running(app) as client:
        yield Harness(app, client, tokens, behaviour)


async def test_same_key_same_body_replays_the_original_body_with_200(harness: Harness) -> None:
    first = await harness.post({"name": "kettle", "size": 3}, "key-1")
    assert first.status_code == 201
    assert REPLAYED_HEADER.lower() not in first.headers
    again = await harness.post({"size": 3, "name": "kettle"}, "key-1")  # same JSON, reordered
    assert again.status_code == 200
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert await harness.widget_count() == 1
    assert harness.behaviour.calls == ["kettle"]


async def test_a_replay_repeats_the_location_and_headers_of_the_first_answer(
    harness: Harness,
) -> None:
    first = await harness.post({"name": "kettle"}, "key-headers")
    assert first.status_code == 201
    widget_id = first.json()["id"]
    assert first.headers["location"] == f"/v1/widgets/{widget_id}"
    assert first.headers["link"] == COLLECTION_LINK
    assert first.headers["set-cookie"] == "seen=1"
    again = await harness.post({"name": "kettle"}, "key-headers")
    assert again.status_code == 200
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["link"] == COLLECTION_LINK
    assert "set-cookie" not in again.headers  # one exchange's, never stored
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    [row] = await harness.key_rows()
    assert row.response_headers is not None
    assert "x-request-id" not in row.response_headers.lower()
    assert "seen=1" not in row.response_headers


async def test_without_a_key_every_request_creates(harness: Harness) -> None:
    assert (await harness.post({"name": "a"})).status_code == 201
    assert (await harness.post({"name": "a"})).status_code == 201
    assert await harness.widget_count() == 2
    assert await harness.key_rows() == []


async def test_same_key_with_a_different_body_is_a_422(harness: Harness) -> None:
    assert (await harness.post({"name": "kettle"}, "key-2")).status_code == 201
    reused = await harness.post({"name": "teapot"}, "key-2")
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    problem = reused.json()
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert "Idempotency-Key" in problem["detail"]
    assert await harness.widget_count() == 1


async def test_same_key_on_another_path_is_a_different_request(harness: Harness) -> None:
    """Keys are scoped per client, and the path is part of the request: the same key and body
    sent to another endpoint is a reused key (422), never a replay of the first answer, and
    the second handler never runs."""
    assert (await harness.post({"name": "kettle"}, "key-3")).status_code == 201
    other = await harness.post({"name": "kettle"}, "key-3", path="/v1/forgetful")
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.headers.get(REPLAYED_HEADER) is None
    problem = other.json()
    assert problem["type"].endswith("/idempotency-key-reused")
    assert await harness.widget_count() == 1


async def test_keys_are_scoped_per_client(harness: Harness) -> None:
    alice = await harness.post({"name": "kettle"}, "shared-key", sub="cit_alice")
    bob = await harness.post({"name": "kettle"}, "shared-key", sub="cit_bob")
    assert alice.status_code == bob.status_code == 201
    assert alice.json()["owner"] == "cit_alice"
    assert bob.json()["owner"] == "cit_bob"
    assert await harness.widget_count() == 2


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "has space", "under_score", "k%C3%A9y", "semi;colon", "dot.ted"],
)
async def test_an_invalid_key_is_a_422_problem_naming_the_header(
    harness: Harness, key: str
) -> None:
    response = await harness.post({"name": "kettle"}, key)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert problem["errors"][0]["in"] == "header"
    assert await harness.widget_count() == 0


async def test_the_longest_valid_key_works(harness: Harness) -> None:
    key = "A-z0" * 63 + "abc"
    assert len(key) == 255
    assert (await harness.post({"name": "kettle"}, key)).status_code == 201
    assert (await harness.post({"name": "kettle"}, key)).status_code == 200


async def test_fifty_concurrent_identical_creates_make_one_widget_and_49_replays(
    harness: Harness,
) -> None:
    harness.behaviour.work_seconds = 0.02  # the first request is still working when others come
    responses = await asyncio.gather(
        *(harness.post({"name": "bulk", "size": 50}, "concurrent-key") for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201], statuses
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get(REPLAYED_HEADER) == "true" for r in responses) == 49
    assert len({r.headers["location"] for r in responses}) == 1
    assert await harness.widget_count() == 1
    assert harness.behaviour.calls == ["bulk"]
    [row] = await harness.key_rows()
    assert row.state == "completed"
    assert row.response_status == 201
    assert row.response_body is not None
    assert row.response_body.encode() == responses[0].content


async def test_a_failed_request_releases_its_key_for_a_retry(harness: Harness) -> None:
    harness.behaviour.fail_next = True
    failed = await harness.post({"name": "kettle"}, "retry-key")
    assert failed.status_code == 409
    assert await harness.widget_count() == 0  # the work was rolled back
    assert await harness.key_rows() == []  # and the claim released
    retried = await harness.post({"name": "kettle"}, "retry-key")
    assert retried.status_code == 201
    assert await harness.widget_count() == 1


async def test_a_route_that_forgets_complete_fails_and_keeps_nothing(harness: Harness) -> None:
    response = await harness.post({"name": "kettle"}, "forgot-key", path="/v1/forgetful")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert await harness.widget_count() == 0
    assert await harness.key_rows() == []


async def _plant_in_flight_claim(harness: Harness, key: str, body: dict[str, Any]) -> None:
    """A claim of another request that is still running (or whose process died)."""
    from services.kit.idempotency import request_fingerprint

    now = harness.clock.now()
    fingerprint = request_fingerprint("POST", "/v1/widgets", "", canonical_json(body))
    async with harness.runtime.db.session() as session:
        session.add(
            IdempotencyRecord(
                scope="cit_alice",
                key=key,
                request_hash=fingerprint,
                state="in_flight",
                locked_until=now + timedelta(seconds=60),
                created_at=now,
                expires_at=now + timedelta(hours=24),
            )
        )


async def test_a_key_still_in_flight_after_the_wait_is_a_409_until_its_lease_ends(
    harness: Harness,
) -> None:
    harness.app.state.idempotency_config = IdempotencyConfig(wait=0.3)
    body = {"name": "kettle", "size": 1}
    await _plant_in_flight_claim(harness, "busy-key", body)
    busy = await harness.post(body, "busy-key")
    assert busy.status_code == 409
    assert busy.json()["type"] == "/problems/idempotency-key-in-flight"
    assert "retry-after" in busy.headers
    assert await harness.widget_count() == 0
    # The holder died: once its lease has run out, a retry takes the key over.
    harness.clock.advance(timedelta(seconds=61))
    taken_over = await harness.post(body, "busy-key")
    assert taken_over.status_code == 201
    assert (await harness.post(body, "busy-key")).status_code == 200
    assert await harness.widget_count() == 1


async def test_a_duplicate_waits_for_the_first_request_and_replays_it(harness: Harness) -> None:
    """Two requests a little apart: the second arrives while the first is working."""
    harness.behaviour.work_seconds = 0.3
    first = asyncio.create_task(harness.post({"name": "slow"}, "slow-key"))
    await harness.behaviour.working.wait()  # the first holds the key and works on
    second = await harness.post({"name": "slow"}, "slow-key")
    assert (await first).status_code == 201
    assert second.status_code == 200
    assert second.content == (await first).content


async def test_keys_expire_after_24_hours_and_the_purge_job_deletes_them(
    harness: Harness,
) -> None:
    assert (await harness.post({"name": "kettle"}, "old-key")).status_code == 201
    harness.clock.advance(timedelta(hours=24, seconds=1))
    # An expired key is a fresh key: the same request creates again ...
    assert (await harness.post({"name": "kettle"}, "old-key")).status_code == 201
    assert await harness.widget_count() == 2
    assert (await harness.post({"name": "kettle"}, "newer-key")).status_code == 201
    harness.clock.advance(timedelta(hours=24, seconds=1))
    scheduler = Scheduler(harness.runtime.db, harness.clock, [PURGE_JOB])
    [run] = await scheduler.run_due()
    assert run.ok
    assert await harness.key_rows() == []


def test_canonical_json_ignores_key_order_and_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": "é"}]}) == canonical_json(
        {"a": [1, {"c": "é", "d": 2}], "b": 1}
    )
