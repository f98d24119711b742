"""The gateway's upstream HTTP/1.1 client (`gateway.upstream_http`) against real TCP servers:
raw ones that answer with exact bytes, and uvicorn. Each test runs on the stdlib loop and on
uvloop (which the stack runs on): their transports differ in the details that matter here."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
import uvloop
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from gateway.headers import RawHeaders
from gateway.upstream_http.connection import (
    READ_HIGH_WATER,
    Connection,
    InvalidResponse,
    UpstreamClosed,
)
from gateway.upstream_http.pool import ConnectFailed, ConnectionPool
from gateway.upstreams import HttpUpstream, ProxyRequest
from services.kit.errors import BadGateway, GatewayTimeout, ServiceUnavailable

from .raw_upstream import Peer, answering, raw_server, uvicorn_server

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop] | None] = {
    "asyncio": None,
    "uvloop": uvloop.new_event_loop,
}
# A guard against a hung test, not a measurement: every test ends well within it.
PATIENCE = 30.0
MAX_READ = 256 * 1024
"""The most either loop's transport reads from a socket at once."""

HOST = (b"host", b"svc")
GET = b"GET / HTTP/1.1\r\nhost: svc\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
OK_LENGTH = (b"content-length", b"2")


def on_both_loops(
    scenario: Callable[..., Coroutine[Any, Any, None]],
) -> Callable[..., None]:
    """The test `scenario`, run once on each loop under the guard timeout; its own
    parameters can still be parametrized."""

    def test(loop: str, **kwargs: Any) -> None:
        async def guarded() -> None:
            async with asyncio.timeout(PATIENCE):
                await scenario(**kwargs)

        with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
            runner.run(guarded())

    keyword = inspect.Parameter.KEYWORD_ONLY
    own = [p.replace(kind=keyword) for p in inspect.signature(scenario).parameters.values()]
    loop_param = inspect.Parameter("loop", keyword)
    test.__signature__ = inspect.Signature([loop_param, *own])  # type: ignore[attr-defined]
    test.__doc__ = scenario.__doc__
    marked: Callable[..., None] = pytest.mark.parametrize("loop", list(LOOPS))(test)
    return marked


def pool_for(port: int, *, limit: int = 4, keepalive: float = 60.0) -> ConnectionPool:
    return ConnectionPool(
        "127.0.0.1", port, limit=limit, keepalive_seconds=keepalive, connect_timeout=5.0
    )


def upstream_for(port: int, pool: ConnectionPool | None = None) -> HttpUpstream:
    return HttpUpstream(
        "svc",
        f"http://127.0.0.1:{port}",
        pool or pool_for(port),
        response_timeout=10.0,
        read_timeout=10.0,
    )


@dataclass
class Result:
    status: int
    headers: RawHeaders
    body: bytes
    reused: bool
    reusable: bool


async def read_all(connection: Connection) -> bytes:
    chunks = []
    while chunk := await connection.read():
        chunks.append(chunk)
    return b"".join(chunks)


async def exchange(
    pool: ConnectionPool,
    method: str = "GET",
    target: bytes = b"/",
    headers: RawHeaders | None = None,
    *,
    body: bytes | None = None,
) -> Result:
    """One whole request through the pool, the connection released after."""
    connection, reused = await pool.acquire()
    try:
        connection.send_head(method, target, headers or [HOST], body=body)
        head = await connection.response_head()
        data = await read_all(connection)
        return Result(head.status, head.headers, data, reused, connection.reusable)
    finally:
        pool.release(connection)


async def get_with_head_seen(pool: ConnectionPool) -> Connection:
    """A GET / on a pooled connection, its response head read, its body not yet."""
    connection, _ = await pool.acquire()
    connection.send_head("GET", b"/", [HOST])
    await connection.response_head()
    return connection


async def eventually(condition: Callable[[], bool]) -> None:
    """Waits for state the code under test offers no event for."""
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


def socket_of(connection: Connection) -> tuple[int, int]:
    """The connection's socket: its descriptor and inode."""
    assert connection._transport is not None
    fd = connection._transport.get_extra_info("socket").fileno()
    return fd, os.fstat(fd).st_ino


def is_closed(sock: tuple[int, int]) -> bool:
    fd, inode = sock
    try:
        return os.fstat(fd).st_ino != inode
    except OSError:
        return True


def check_accounting(pool: ConnectionPool, *, open_: int, idle: int) -> None:
    assert (pool.open_connections, pool.idle_connections) == (open_, idle)


# --- keep-alive ---------------------------------------------------------------------------


@on_both_loops
async def test_sequential_requests_share_one_connection() -> None:
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-N: 2\r\n\r\nsecond"
    async with raw_server(answering(OK, second)) as server:
        pool = pool_for(server.port)
        first = await exchange(pool)
        check_accounting(pool, open_=1, idle=1)
        again = await exchange(pool, "GET", b"/b?x=1", [HOST, (b"accept", b"*/*")])
        assert (first.status, first.body, first.reused, first.reusable) == (200, b"ok", False, True)
        assert first.headers == [(b"content-length", b"2")]
        assert (again.body, again.reused, again.headers[1]) == (b"second", True, (b"x-n", b"2"))
        assert server.accepts == 1
        assert server.requests == [GET, b"GET /b?x=1 HTTP/1.1\r\nhost: svc\r\naccept: */*\r\n\r\n"]
        pool.close()
        check_accounting(pool, open_=0, idle=0)
        assert await server.peers[0].gone


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http-1.0"],
)
@on_both_loops
async def test_a_response_that_ends_keep_alive_is_not_reused(response: bytes) -> None:
    async with raw_server(answering(response, OK)) as server:
        pool = pool_for(server.port)
        first = await exchange(pool)
        assert (first.body, first.reusable) == (b"ok", False)
        check_accounting(pool, open_=0, idle=0)
        second = await exchange(pool)
        assert (second.body, second.reused) == (b"ok", False)
        assert server.accepts == 2


@on_both_loops
async def test_calls_to_uvicorn_reuse_one_connection() -> None:
    """The real server: each call sees the same client port, so the same connection."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = await Request(scope, receive).body()
        seen = {"port": scope["client"][1], "method": scope["method"], "body": body.decode()}
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})

    async with uvicorn_server(app) as port:
        upstream = upstream_for(port)
        answers = [
            await upstream.call("GET", "/a", headers=[], body=b"", time_limit=10),
            await upstream.call("POST", "/b", headers=[], body=b"payload", time_limit=10),
            await upstream.call("GET", "/c", headers=[], body=b"", time_limit=10),
        ]
        seen = [a.json() for a in answers]
        assert [s["method"] for s in seen] == ["GET", "POST", "GET"]
        assert seen[1]["body"] == "payload"
        assert len({s["port"] for s in seen}) == 1
        check_accounting(upstream.pool, open_=1, idle=1)
        upstream.pool.close()


# --- request framing ----------------------------------------------------------------------


@on_both_loops
async def test_call_sends_head_and_small_body_in_one_piece() -> None:
    received: list[bytes] = []

    async def handler(peer: Peer) -> None:
        received.append(await peer.read_some())
        await peer.send(OK)
        received.append(await peer.read_some())
        await peer.send(OK)
        await peer.until_client_closes()

    async with raw_server(handler) as server:
        upstream = upstream_for(server.port)
        headers = [(b"content-type", b"text/plain")]
        posted = await upstream.call("POST", "/v1/x", headers=headers, body=b"hello", time_limit=10)
        got = await upstream.call("GET", "/v1/y?q=1", headers=[], body=b"", time_limit=10)
        assert (posted.status, posted.body, got.body) == (200, b"ok", b"ok")
        host = b"host: 127.0.0.1:%d\r\n" % server.port
        assert received == [
            b"POST /v1/x HTTP/1.1\r\n"
            + host
            + b"content-type: text/plain\r\ncontent-length: 5\r\n\r\nhello",
            b"GET /v1/y?q=1 HTTP/1.1\r\n" + host + b"\r\n",
        ]
        assert server.accepts == 1
        upstream.pool.close()


@on_both_loops
async def test_streamed_upload_framing() -> None:
    """Chunked without a length (an empty piece sends nothing: it would end the body), as
    it comes with one; the connection stays usable after either."""
    async with raw_server(answering(OK, OK, OK)) as server:
        pool = pool_for(server.port)
        connection, _ = await pool.acquire()
        connection.send_head("POST", b"/up", [HOST, (b"transfer-encoding", b"chunked")])
        connection.start_chunked_body()
        for piece in (b"hello", b"", b" world!", b"x" * 20):
            assert await connection.send_body(piece)
        connection.end_body()
        assert (await connection.response_head()).status == 200
        assert await read_all(connection) == b"ok"
        assert connection.reusable
        pool.release(connection)

        connection, reused = await pool.acquire()
        assert reused
        connection.send_head("PUT", b"/up", [HOST, (b"content-length", b"10")])
        assert await connection.send_body(b"01234")
        assert await connection.send_body(b"56789")
        connection.end_body()
        assert (await connection.response_head()).status == 200
        assert await read_all(connection) == b"ok"
        pool.release(connection)

        assert (await exchange(pool)).reused
        assert server.accepts == 1
        assert server.requests == [
            b"POST /up HTTP/1.1\r\nhost: svc\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n7\r\n world!\r\n14\r\n" + b"x" * 20 + b"\r\n0\r\n\r\n",
            b"PUT /up HTTP/1.1\r\nhost: svc\r\ncontent-length: 10\r\n\r\n0123456789",
            GET,
        ]
        pool.close()


def asgi_upload(*pieces: bytes) -> Callable[[], Awaitable[Message]]:
    """An ASGI `receive` giving the request body in `pieces`, then never disconnecting."""
    queue = list(pieces)

    async def receive() -> Message:
        if queue:
            body = queue.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(queue)}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


def proxy_request(method: str, path: str, receive: Receive, headers: RawHeaders) -> ProxyRequest:
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }
    return ProxyRequest(scope, receive, headers, request_id="r-1", has_body=True)


@on_both_loops
async def test_forward_streams_a_chunked_upload_to_uvicorn() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pieces = []
        while True:
            message = await receive()
            pieces.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        framing = dict(scope["headers"]).get(b"transfer-encoding", b"")
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": framing + b" " + b"".join(pieces)})

    async with uvicorn_server(app) as port:
        upstream = upstream_for(port)
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        receive = asgi_upload(b"one ", b"two ", b"three")
        await upstream.forward(proxy_request("POST", "/up", receive, []), send)
        assert sent[0]["status"] == 201
        assert b"".join(m.get("body", b"") for m in sent[1:]) == b"chunked one two three"
        assert sent[-1].get("more_body", False) is False
        check_accounting(upstream.pool, open_=1, idle=1)
        upstream.pool.close()


# --- response framing ---------------------------------------------------------------------


@on_both_loops
async def test_chunked_response_across_writes() -> None:
    """Several chunks in several TCP writes, a size line split between two, a pause, and a
    trailer (which is not a header of the response); the connection stays in step."""
    go_on = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n")
        await go_on.wait()
        for piece in (b"2\r\nlo\r\n1", b"1\r\n, wonderful world\r\n", b"0\r\nx-trailer: t\r\n\r\n"):
            await peer.send(piece)
            await asyncio.sleep(0.01)
        await peer.read_request()
        await peer.send(OK)
        await peer.until_client_closes()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection, _ = await pool.acquire()
        connection.send_head("GET", b"/", [HOST])
        head = await connection.response_head()
        assert await connection.read() == b"hel"
        go_on.set()
        assert await read_all(connection) == b"lo, wonderful world"
        assert connection.at_eof()
        assert head.headers == [(b"transfer-encoding", b"chunked")]
        assert connection.reusable
        pool.release(connection)
        assert (await exchange(pool)).body == b"ok"
        assert server.accepts == 1
        pool.close()


@on_both_loops
async def test_close_delimited_response() -> None:
    go_on = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if server.accepts > 1:
            await answering(OK)(peer)
            return
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
        await go_on.wait()
        await peer.send(b"part two")
        peer.close()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection = await get_with_head_seen(pool)
        assert await connection.read() == b"part one, "
        go_on.set()
        assert await read_all(connection) == b"part two"
        assert connection.at_eof()
        assert not connection.reusable
        pool.release(connection)
        check_accounting(pool, open_=0, idle=0)
        assert (await exchange(pool)).reused is False
        assert server.accepts == 2
        pool.close()


@on_both_loops
async def test_close_delimited_response_cut_by_a_reset_is_an_error() -> None:
    """The end of the connection is the end of the body only when the service ended it."""
    head_seen = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\n\r\npartial")
        await head_seen.wait()
        peer.reset()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection = await get_with_head_seen(pool)
        head_seen.set()
        with pytest.raises(UpstreamClosed) as raised:
            await read_all(connection)
        assert not raised.value.replayable
        assert not connection.reusable
        pool.release(connection)
        check_accounting(pool, open_=0, idle=0)


@on_both_loops
async def test_204_and_304_have_no_body() -> None:
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"
    # A 304's Content-Length describes the representation it stands for, not a body.
    not_modified = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 10\r\n\r\n'
    async with raw_server(answering(no_content, not_modified, OK)) as server:
        pool = pool_for(server.port)
        results = [await exchange(pool) for _ in range(3)]
        assert [(r.status, r.body, r.reusable) for r in results] == [
            (204, b"", True),
            (304, b"", True),
            (200, b"ok", True),
        ]
        assert server.accepts == 1
        pool.close()


@on_both_loops
async def test_head_response_announcing_a_length_completes_without_a_body() -> None:
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    async with raw_server(answering(head_answer, OK)) as server:
        pool = pool_for(server.port)
        result = await exchange(pool, "HEAD")
        assert (result.status, result.body, result.headers) == (
            200,
            b"",
            [(b"content-length", b"10")],
        )
        assert not result.reusable
        check_accounting(pool, open_=0, idle=0)
        assert (await exchange(pool)).body == b"ok"
        assert server.accepts == 2
        assert server.requests[0] == b"HEAD / HTTP/1.1\r\nhost: svc\r\n\r\n"
        pool.close()


@on_both_loops
async def test_head_against_uvicorn() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"5"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello"})

    async with uvicorn_server(app) as port:
        upstream = upstream_for(port)
        head = await upstream.call("HEAD", "/", headers=[], body=b"", time_limit=10)
        got = await upstream.call("GET", "/", headers=[], body=b"", time_limit=10)
        assert (head.status, head.body, (b"content-length", b"5") in head.headers) == (
            200,
            b"",
            True,
        )
        assert got.body == b"hello"
        upstream.pool.close()


@on_both_loops
async def test_interim_100_continue_then_the_response() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        await asyncio.sleep(0.01)
        await peer.send(b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone")
        await peer.read_request()
        await peer.send(b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" + OK)
        await peer.until_client_closes()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        first = await exchange(pool, "POST", b"/", [HOST, (b"content-length", b"1")], body=b"x")
        second = await exchange(pool)
        assert (first.status, first.headers, first.body) == (
            201,
            [(b"content-length", b"4")],
            b"done",
        )
        assert (second.status, second.headers, second.body) == (200, [OK_LENGTH], b"ok")
        assert second.reused
        assert server.accepts == 1
        pool.close()


@on_both_loops
async def test_bytes_after_the_response_are_not_part_of_it() -> None:
    """A service that sends more than its response: the extra must not be taken as this
    body nor as the next response, so the connection is dropped."""
    glued = OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
    async with raw_server(answering(glued, OK)) as server:
        pool = pool_for(server.port)
        first = await exchange(pool)
        assert (first.body, first.reusable) == (b"ok", False)
        second = await exchange(pool)
        assert (second.body, second.reused) == (b"ok", False)
        assert server.accepts == 2
        pool.close()


@on_both_loops
async def test_a_response_nobody_asked_for_ends_an_idle_connection() -> None:
    """Some servers say 408 before they close an idle connection (or do not close it): that
    must not become the answer to the next request."""

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(OK)
        if server.accepts == 1:
            await asyncio.sleep(0.01)
            await peer.send(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        await peer.until_client_closes()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection = await get_with_head_seen(pool)
        await read_all(connection)
        pool.release(connection)
        await eventually(lambda: connection.closed)
        result = await exchange(pool)
        assert (result.status, result.body, result.reused) == (200, b"ok", False)
        check_accounting(pool, open_=1, idle=1)
        pool.close()


# --- errors -------------------------------------------------------------------------------


@on_both_loops
async def test_closed_before_responding_on_a_fresh_connection_is_replayable() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.close()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        with pytest.raises(UpstreamClosed) as raised:
            await exchange(pool)
        assert raised.value.replayable
        check_accounting(pool, open_=0, idle=0)
        assert server.requests == [GET]


@on_both_loops
async def test_closed_in_the_middle_of_the_body() -> None:
    head_seen = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd")
        await head_seen.wait()
        peer.close()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection = await get_with_head_seen(pool)
        head_seen.set()
        assert await connection.read() == b"abcd"
        with pytest.raises(UpstreamClosed) as raised:
            await connection.read()
        assert not raised.value.replayable
        assert not connection.at_eof()
        assert not connection.reusable
        pool.release(connection)
        check_accounting(pool, open_=0, idle=0)


@on_both_loops
async def test_garbage_is_an_invalid_response() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await peer.until_client_closes()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        with pytest.raises(InvalidResponse):
            await exchange(pool)
        check_accounting(pool, open_=0, idle=0)
        with pytest.raises(BadGateway):
            await upstream_for(server.port, pool).call(
                "GET", "/", headers=[], body=b"", time_limit=10
            )
        check_accounting(pool, open_=0, idle=0)
        for peer in server.peers:
            await peer.gone  # the client closed it


@on_both_loops
async def test_connect_refused() -> None:
    async with raw_server(answering()) as server:
        port = server.port
    pool = pool_for(port)
    with pytest.raises(ConnectFailed) as raised:
        await pool.acquire()
    assert not raised.value.timed_out
    check_accounting(pool, open_=0, idle=0)
    with pytest.raises(ServiceUnavailable):
        await upstream_for(port, pool).call("GET", "/", headers=[], body=b"", time_limit=10)
    check_accounting(pool, open_=0, idle=0)


@on_both_loops
async def test_a_service_that_never_answers_times_out_and_its_connection_is_closed() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.until_client_closes()

    async with raw_server(handler) as server:
        upstream = upstream_for(server.port)
        with pytest.raises(GatewayTimeout):
            await upstream.call("GET", "/", headers=[], body=b"", time_limit=0.5)
        await eventually(lambda: server.accepts == 1)
        await server.peers[0].gone  # the client closed it
        check_accounting(upstream.pool, open_=0, idle=0)


@on_both_loops
async def test_a_discarded_connection_with_unsent_bytes_is_closed_at_once() -> None:
    """The service reads nothing of a large request (hung): the connection given up on must
    close now, not once its unsent bytes have drained, which would be never."""

    async def handler(peer: Peer) -> None:
        await asyncio.Event().wait()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection, _ = await pool.acquire()
        body = b"x" * (32 << 20)
        connection.send_head("PUT", b"/", [HOST, (b"content-length", b"%d" % len(body))], body=body)
        sock = socket_of(connection)
        pool.release(connection)
        check_accounting(pool, open_=0, idle=0)
        await eventually(lambda: is_closed(sock))


# --- stale keep-alive connections ---------------------------------------------------------


def closing_on_the_second_request(answer: bytes) -> Callable[[Peer], Awaitable[None]]:
    """The first connection answers once, then closes without answering the next request
    (a service ending an idle connection as a request arrives); later ones answer `answer`."""

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        if len(peer_list) == 0:
            peer_list.append(peer)
            await peer.send(OK)
            await peer.read_request()
            peer.close()
            return
        await peer.send(answer)
        await peer.until_client_closes()

    peer_list: list[Peer] = []
    return handler


@on_both_loops
async def test_a_get_on_a_stale_connection_is_retried_on_another() -> None:
    again = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"
    async with raw_server(closing_on_the_second_request(again)) as server:
        upstream = upstream_for(server.port)
        assert (await upstream.call("GET", "/", headers=[], body=b"", time_limit=10)).body == b"ok"
        retried = await upstream.call("GET", "/", headers=[], body=b"", time_limit=10)
        assert (retried.status, retried.body) == (200, b"again")
        assert server.accepts == 2
        host = b"host: 127.0.0.1:%d\r\n" % server.port
        assert server.requests == [b"GET / HTTP/1.1\r\n" + host + b"\r\n"] * 3
        check_accounting(upstream.pool, open_=1, idle=1)
        upstream.pool.close()


@on_both_loops
async def test_a_post_on_a_stale_connection_is_not_retried() -> None:
    async with raw_server(closing_on_the_second_request(OK)) as server:
        upstream = upstream_for(server.port)
        await upstream.call("GET", "/", headers=[], body=b"", time_limit=10)
        with pytest.raises(BadGateway):
            await upstream.call("POST", "/pay", headers=[], body=b"once", time_limit=10)
        assert server.accepts == 1
        assert server.requests[1].endswith(b"content-length: 4\r\n\r\nonce")
        check_accounting(upstream.pool, open_=0, idle=0)


@on_both_loops
async def test_the_retry_takes_a_new_connection_and_drops_the_idle_ones_gone_stale() -> None:
    """Connections that went idle together are closed together by the service's keep-alive
    timer: the retry must not land on the next stale one."""

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(OK)
        if server.accepts <= 2:  # the first two go stale: closed at their next request
            await peer.read_request()
            peer.close()
        else:
            await peer.until_client_closes()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        upstream = upstream_for(server.port, pool)
        both = [await pool.acquire(), await pool.acquire()]
        for connection, _ in both:
            connection.send_head("GET", b"/", [HOST])
            await connection.response_head()
            await read_all(connection)
        for connection, _ in both:
            pool.release(connection)
        check_accounting(pool, open_=2, idle=2)
        answer = await upstream.call("GET", "/", headers=[], body=b"", time_limit=10)
        assert (answer.status, answer.body) == (200, b"ok")
        assert server.accepts == 3
        assert all(connection.closed for connection, _ in both)
        check_accounting(pool, open_=1, idle=1)
        pool.close()


@on_both_loops
async def test_waiting_for_a_free_connection_ends_at_the_response_timeout() -> None:
    async with raw_server(answering(OK)) as server:
        pool = pool_for(server.port, limit=1)
        held, _ = await pool.acquire()  # an event stream holding the only connection
        upstream = HttpUpstream(
            "svc", f"http://127.0.0.1:{server.port}", pool, response_timeout=0.2, read_timeout=10
        )
        with pytest.raises(GatewayTimeout):
            await upstream.call("GET", "/", headers=[], body=b"", time_limit=10)
        check_accounting(pool, open_=1, idle=0)
        pool.release(held)
        pool.close()
        check_accounting(pool, open_=0, idle=0)


@on_both_loops
async def test_an_idle_connection_the_service_closed_is_skipped() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(OK)
        if server.accepts == 1:
            peer.close()
        else:
            await peer.until_client_closes()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection = await get_with_head_seen(pool)
        await read_all(connection)
        pool.release(connection)
        await eventually(lambda: connection.closed)
        result = await exchange(pool)
        assert (result.body, result.reused) == (b"ok", False)
        assert server.accepts == 2
        check_accounting(pool, open_=1, idle=1)
        pool.close()
        check_accounting(pool, open_=0, idle=0)


@on_both_loops
async def test_uvicorn_closing_an_idle_connection() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hi"})

    async with uvicorn_server(app, keep_alive=1) as port:
        pool = pool_for(port)
        upstream = upstream_for(port, pool)
        assert (await upstream.call("GET", "/", headers=[], body=b"", time_limit=10)).body == b"hi"
        connection = pool._idle[0]
        await eventually(lambda: connection.closed)
        assert (await upstream.call("GET", "/", headers=[], body=b"", time_limit=10)).body == b"hi"
        check_accounting(pool, open_=1, idle=1)
        pool.close()


# --- an answer before the whole request body ----------------------------------------------


@on_both_loops
async def test_an_early_answer_stops_the_upload_and_is_delivered_whole() -> None:
    """The service reads part of a large body, answers 413 (its body a little after its
    head) and reads no more: sending stops, the answer arrives whole, and the connection,
    with request bytes still unsent, is closed for real."""

    async def handler(peer: Peer) -> None:
        await peer.reader.readuntil(b"\r\n\r\n")
        await peer.reader.readexactly(100_000)
        await peer.send(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\n\r\n")
        await asyncio.sleep(0.05)
        await peer.send(b"too large")
        await asyncio.Event().wait()  # reads nothing more

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection, _ = await pool.acquire()
        connection.send_head("PUT", b"/big", [HOST, (b"content-length", b"%d" % (1 << 34))])
        piece = b"x" * 65536
        while await connection.send_body(piece):
            pass
        connection.abandon_body()
        assert (await connection.response_head()).status == 413
        assert await read_all(connection) == b"too large"
        assert not connection.reusable
        sock = socket_of(connection)
        pool.release(connection)
        check_accounting(pool, open_=0, idle=0)
        await eventually(lambda: is_closed(sock))


@on_both_loops
async def test_a_complete_answer_to_a_partly_sent_body_does_not_make_it_reusable() -> None:
    """The service answered in full (keep-alive) after half the body, and the caller stopped
    sending without a word: the rest of the body would be read as the next request."""

    async def handler(peer: Peer) -> None:
        await peer.reader.readuntil(b"\r\n\r\n")
        await peer.reader.readexactly(5)
        await peer.send(OK)
        await peer.until_client_closes()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection, _ = await pool.acquire()
        connection.send_head("PUT", b"/", [HOST, (b"content-length", b"10")])
        assert await connection.send_body(b"01234")
        assert (await connection.response_head()).status == 200
        assert await read_all(connection) == b"ok"
        assert not connection.reusable
        pool.release(connection)
        check_accounting(pool, open_=0, idle=0)
        assert server.accepts == 1


@on_both_loops
async def test_forward_of_an_upload_uvicorn_refuses_early() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"9")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": b"too large"})

    async with uvicorn_server(app) as port:
        upstream = upstream_for(port)
        pieces = 0

        async def receive() -> Message:
            nonlocal pieces
            pieces += 1
            return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        headers = [(b"content-length", b"%d" % (1 << 34))]
        await upstream.forward(proxy_request("PUT", "/big", receive, headers), send)
        assert sent[0]["status"] == 413
        assert b"".join(m.get("body", b"") for m in sent[1:]) == b"too large"
        assert pieces < (1 << 34) // 65536
        check_accounting(upstream.pool, open_=0, idle=0)
        upstream.pool.close()


# --- flow control -------------------------------------------------------------------------


@on_both_loops
async def test_a_large_response_read_slowly_is_buffered_within_bounds() -> None:
    body = bytes(range(256)) * (8 * 4096)  # 8 MiB

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for start in range(0, len(body), 65536):
            await peer.send(body[start : start + 65536])
        await peer.read_request()
        await peer.send(OK)
        await peer.until_client_closes()

    async with raw_server(handler) as server:
        pool = pool_for(server.port)
        connection, _ = await pool.acquire()
        transport = connection._transport
        assert transport is not None
        connection.send_head("GET", b"/big", [HOST])
        await connection.response_head()
        pieces: list[bytes] = []
        received = 0
        pauses = 0

        def paused_or_all_in() -> bool:
            return not transport.is_reading() or received + connection._buffered == len(body)

        while not connection.at_eof():
            # A slow reader: it takes nothing until the connection has stopped reading.
            await eventually(paused_or_all_in)
            pauses += not transport.is_reading()
            pieces.append(await connection.read())
            received += len(pieces[-1])
        assert b"".join(pieces) == body
        assert pauses > 0
        assert max(len(p) for p in pieces) <= READ_HIGH_WATER + MAX_READ
        assert connection.reusable
        pool.release(connection)
        assert (await exchange(pool)).reused
        pool.close()


# --- the pool -----------------------------------------------------------------------------


async def settle() -> None:
    """Lets every task that can run, run."""
    for _ in range(20):
        await asyncio.sleep(0)


@on_both_loops
async def test_the_limit_makes_the_next_acquire_wait_for_a_release() -> None:
    async with raw_server(answering(OK, OK, OK)) as server:
        pool = pool_for(server.port, limit=2)
        first, _ = await pool.acquire()
        second, _ = await pool.acquire()
        third = asyncio.create_task(pool.acquire())
        await settle()
        assert not third.done()
        check_accounting(pool, open_=2, idle=0)

        first.send_head("GET", b"/", [HOST])
        await first.response_head()
        await read_all(first)
        pool.release(first)
        connection, reused = await third
        assert (connection, reused) == (first, True)

        fourth = asyncio.create_task(pool.acquire())
        await settle()
        assert not fourth.done()
        pool.release(second)  # unused: closed, which makes room for a new one
        connection, reused = await fourth
        assert connection is not second
        assert not reused
        check_accounting(pool, open_=2, idle=0)
        pool.release(connection)  # unused, fresh: closed
        pool.release(first)  # unused, its last exchange complete: kept
        check_accounting(pool, open_=1, idle=1)
        assert server.accepts == 3
        pool.close()
        check_accounting(pool, open_=0, idle=0)


@on_both_loops
async def test_a_woken_waiter_that_is_cancelled_passes_its_turn_on() -> None:
    async with raw_server(answering(OK)) as server:
        pool = pool_for(server.port, limit=1)
        held, _ = await pool.acquire()
        woken = asyncio.create_task(pool.acquire())
        next_in_line = asyncio.create_task(pool.acquire())
        await settle()
        pool.release(held)  # closed (no exchange on it): room for one new connection
        woken.cancel()
        connection, _ = await next_in_line
        assert woken.cancelled()
        check_accounting(pool, open_=1, idle=0)
        pool.release(connection)
        check_accounting(pool, open_=0, idle=0)
        pool.close()


@on_both_loops
async def test_idle_connections_are_closed_after_the_keep_alive() -> None:
    async with raw_server(answering(OK, OK)) as server:
        pool = pool_for(server.port, keepalive=0.05)
        await exchange(pool)
        check_accounting(pool, open_=1, idle=1)
        await eventually(lambda: pool.idle_connections == 0)
        check_accounting(pool, open_=0, idle=0)
        assert await server.peers[0].gone
        assert not (await exchange(pool)).reused
        await eventually(lambda: pool.open_connections == 0)
        assert server.accepts == 2
        pool.close()


@on_both_loops
async def test_close_closes_idle_connections_and_wakes_waiters() -> None:
    async with raw_server(answering(OK, OK)) as server:
        pool = pool_for(server.port, limit=1)
        await exchange(pool)
        pool.close()
        check_accounting(pool, open_=0, idle=0)
        assert await server.peers[0].gone
        with pytest.raises(ConnectFailed):
            await pool.acquire()

        pool = pool_for(server.port, limit=1)
        busy, _ = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        await settle()
        pool.close()
        with pytest.raises(ConnectFailed):
            await waiter
        busy.send_head("GET", b"/", [HOST])
        await busy.response_head()
        await read_all(busy)
        assert busy.reusable
        pool.release(busy)  # not kept: the pool is closed
        assert busy.closed
        check_accounting(pool, open_=0, idle=0)
        assert await server.peers[1].gone


@on_both_loops
async def test_accounting_through_a_mix_of_failures() -> None:
    """Every way an exchange ends leaves `open_connections` right: never below zero, zero
    once all is released and the pool closed."""
    responses = {
        b"/ok": OK,
        b"/close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"/garbage": b"garbage\r\n\r\n",
    }

    async def handler(peer: Peer) -> None:
        while True:
            request = await peer.read_request()
            target = request.split(b" ")[1]
            if target == b"/drop":
                peer.close()
                return
            if target != b"/silent":
                await peer.send(responses[target])

    async with raw_server(handler) as server:
        pool = pool_for(server.port, limit=3)
        upstream = upstream_for(server.port, pool)
        for target in ["/ok", "/drop", "/ok", "/garbage", "/close", "/silent", "/ok", "/drop"]:
            with contextlib.suppress(BadGateway, GatewayTimeout):
                await upstream.call("GET", target, headers=[], body=b"", time_limit=0.5)
            assert 0 <= pool.open_connections <= pool.limit
            assert pool.idle_connections <= pool.open_connections
        pool.close()
        check_accounting(pool, open_=0, idle=0)
