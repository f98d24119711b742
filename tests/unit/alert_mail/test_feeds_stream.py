"""`GET /v1/stream` over a real uvicorn server (httpx's ASGI transport does not stream):
newly sent alerts are pushed, missed ones replayed with `Last-Event-ID`, filters apply, a
second replica's streams hear about alerts the first one sent, and a slow client is dropped
without holding up the others."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from deploy.mailsink import MailSink
from deploy.serve import Server, server_config
from services.alert_mail.feeds.broadcaster import Broadcaster
from services.alert_mail.models import Alert
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.alerts_support import Staff, alert_body, send_four_eyes
from tests.unit.alert_mail.conftest import AlertMail, make_app, seed_demo_city

# A guard against a hung stream, not a measurement: events arrive well within it.
PATIENCE = 15.0


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app (lifespan included) behind uvicorn on a free port, and a client for it."""
    server = Server(server_config(app, "127.0.0.1", 0))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await task


@dataclass
class Event:
    event: str | None = None
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data)


class EventReader:
    """Parses text/event-stream as the HTML standard describes, one event at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self) -> Event:
        async with asyncio.timeout(PATIENCE):
            event = Event()
            async for line in self.lines:
                if line == "":
                    if event.event or event.data or event.id or event.comments:
                        return event
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    event.comments.append(value)
                elif name == "event":
                    event.event = value
                elif name == "id":
                    event.id = value
                elif name == "data":
                    event.data += value
        raise AssertionError("the stream ended")

    async def next_alert(self) -> Event:
        while (event := await self.next()).event != "alert":
            pass
        return event


@asynccontextmanager
async def stream(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: str
) -> AsyncIterator[EventReader]:
    async with client.stream("GET", "/v1/stream", params=params, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = EventReader(response)
        first = await reader.next()  # sent once the stream is subscribed
        assert first.comments == ["connected"]
        yield reader


def headline(n: str) -> dict[str, Any]:
    return {"ja": {"headline": f"お知らせ {n}", "body": "本文"}}


@pytest.fixture
def staff(tokens: TokenFactory) -> Staff:
    return Staff(tokens)


@pytest.fixture
async def server(
    db_url: str, tokens: TokenFactory, sink: MailSink
) -> AsyncIterator[httpx.AsyncClient]:
    """Polls only once a minute: an alert sent here reaches the streams through the wake-up
    after its commit."""
    app = make_app(db_url, tokens, sink, stream_poll_seconds=60)
    async with served(app) as client:
        await seed_demo_city(app)
        yield client


async def test_a_sent_alert_reaches_the_stream_and_a_reconnect_replays_what_was_missed(
    server: httpx.AsyncClient, staff: Staff
) -> None:
    now = datetime.now(UTC)
    async with stream(server) as events:
        first = await send_four_eyes(server, staff, alert_body(now, content=headline("1")))
        pushed = await events.next_alert()
    assert pushed.id == first["id"]
    summary = pushed.json()
    assert summary["id"] == first["id"]
    assert summary["content"]["ja"]["headline"] == "お知らせ 1"
    assert summary["cap_url"].endswith(f"/v1/feeds/cap/{first['id']}.xml")

    missed = [
        await send_four_eyes(server, staff, alert_body(now, content=headline(n)))
        for n in ("2", "3")
    ]
    async with stream(server, headers={"Last-Event-ID": first["id"]}) as events:
        replayed = [await events.next_alert(), await events.next_alert()]
        live = await send_four_eyes(server, staff, alert_body(now, content=headline("4")))
        after = await events.next_alert()
    assert [e.id for e in replayed] == [m["id"] for m in missed]
    assert after.id == live["id"]


async def test_filters_narrow_the_stream(server: httpx.AsyncClient, staff: Staff) -> None:
    now = datetime.now(UTC)
    async with (
        stream(server, category="weather") as weather,
        stream(server, district="hokubu") as hokubu,
    ):
        await send_four_eyes(server, staff, alert_body(now, districts=["chuo"]))
        city_wide = await send_four_eyes(
            server, staff, alert_body(now, category="weather", districts=[])
        )
        assert (await weather.next_alert()).id == city_wide["id"]
        assert (await hokubu.next_alert()).id == city_wide["id"]


async def test_an_alert_sent_by_another_replica_reaches_this_ones_streams(
    db_url: str, tokens: TokenFactory, sink: MailSink, staff: Staff
) -> None:
    first = make_app(db_url, tokens, sink, stream_poll_seconds=0.2)
    second = make_app(db_url, tokens, sink, stream_poll_seconds=0.2)
    async with served(first) as one:
        await seed_demo_city(first)
        async with served(second) as two, stream(two) as events:
            sent = await send_four_eyes(one, staff, alert_body(datetime.now(UTC)))
            assert (await events.next_alert()).id == sent["id"]


async def test_stream_refuses_bad_filters(server: httpx.AsyncClient) -> None:
    response = await server.get("/v1/stream", params={"district": "../etc"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def _alert(n: int, *, category: str = "disaster", districts: list[str] | None = None) -> Alert:
    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC) + timedelta(seconds=n)
    return Alert(
        id=f"alt_{n:026d}",
        status="sending",
        category=category,
        districts=districts or [],
        severity="Severe",
        urgency="Immediate",
        certainty="Observed",
        content={"ja": {"headline": str(n), "body": "本文"}},
        department="bosai",
        fingerprint="f" * 64,
        created_by="stf_a",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=1),
        sent_at=now,
    )


async def test_a_slow_client_is_dropped_and_never_holds_up_the_others(
    alert_mail: AlertMail,
) -> None:
    broadcaster = Broadcaster(alert_mail.runtime.db, lambda a: {"id": a.id}, queue_size=3)
    slow = broadcaster.subscribe()
    fast = broadcaster.subscribe()
    north = broadcaster.subscribe(district="hokubu")
    received: list[str] = []
    for n in range(5):
        broadcaster.publish(_alert(n, districts=["chuo"] if n % 2 else None))
        item = fast.queue.get_nowait()
        assert item is not None
        received.append(item["id"])
    assert received == [f"alt_{n:026d}" for n in range(5)]
    assert slow.dropped
    assert slow.queue.get_nowait() is None  # its stream ends; it reconnects and replays
    assert slow not in broadcaster.listeners
    assert fast in broadcaster.listeners
    assert not north.dropped
    north_ids = [north.queue.get_nowait() for _ in range(north.queue.qsize())]
    assert north_ids == [{"id": f"alt_{n:026d}"} for n in (0, 2, 4)]  # city-wide only


async def test_the_broadcaster_stops_even_when_woken_as_it_is_cancelled(
    alert_mail: AlertMail,
) -> None:
    """A commit that sends an alert just before shutdown must not keep the poller alive."""
    for _ in range(50):
        broadcaster = Broadcaster(alert_mail.runtime.db, lambda a: {"id": a.id})
        await broadcaster.start()
        await asyncio.sleep(0)
        broadcaster.wake()
        async with asyncio.timeout(PATIENCE):
            await broadcaster.stop()
