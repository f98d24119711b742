"""uvicorn with coalesced writes: one send per event-loop turn, nothing lost or reordered."""

from __future__ import annotations

import asyncio
import socket
import threading

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from deploy.coalesced_writes import CoalescingTransport
from tests.support.served import served


class RecordingTransport(asyncio.Transport):
    """What reached the socket, one entry per write call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")


async def next_turns() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_writes_of_one_turn_leave_as_one() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"ok")
    assert inner.writes == []
    await next_turns()
    assert inner.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]


async def test_writes_of_later_turns_leave_separately_in_order() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    for part in (b"data: one\n\n", b"data: two\n\n"):
        transport.write(part)
        await next_turns()
    assert inner.writes == [b"data: one\n\n", b"data: two\n\n"]


async def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, loop)
    transport.write(b"last words")
    transport.close()
    assert inner.writes == [b"last words"]
    assert inner.events == ["write", "close"]

    aborted = RecordingTransport()
    transport = CoalescingTransport(aborted, loop)
    transport.write(b"never sent")
    transport.abort()
    await next_turns()
    assert aborted.writes == []
    assert aborted.events == ["abort"]


def streaming_app(first_event_seen: asyncio.Event) -> ASGIApp:
    """A small body at once, or an event stream that holds its later events until the
    client has seen the first."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/small":
            headers = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"small"})
            return
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: 0\n\n", "more_body": True})
        await first_event_seen.wait()
        for n in (1, 2):
            await send(
                {"type": "http.response.body", "body": b"data: %d\n\n" % n, "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})

    return app


async def test_the_stack_servers_answer_and_stream_with_coalesced_writes() -> None:
    first_event_seen = asyncio.Event()
    app = streaming_app(first_event_seen)
    async with served(app) as url, httpx.AsyncClient(base_url=url) as client:
        answers = [await client.get("/small") for _ in range(3)]  # one kept-alive connection
        assert [a.text for a in answers] == ["small"] * 3
        closed = await client.get("/small", headers={"Connection": "close"})
        assert closed.text == "small"
        async with client.stream("GET", "/events") as stream:
            lines = stream.aiter_lines()
            first = await asyncio.wait_for(anext(lines), 5)  # not held back for the rest
            first_event_seen.set()
            rest = [line async for line in lines if line]
    assert [first, *rest] == ["data: 0", "data: 1", "data: 2"]


async def test_a_finished_response_leaves_before_the_apps_work_after_it() -> None:
    """The app blocks the loop after its last message until the client has the whole
    response: that only ends well if the response left when it was finished, not at the
    end of the turn."""
    received = threading.Event()
    seen_in_time: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"4")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"done"})
        seen_in_time.append(received.wait(timeout=10))  # blocks the loop on purpose

    def fetch(port: int) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
            data = b""
            while not data.endswith(b"done"):
                data += sock.recv(4096)
        received.set()
        return data

    async with served(app) as url:
        port = int(url.rsplit(":", 1)[1])
        data = await asyncio.to_thread(fetch, port)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert seen_in_time == [True]
