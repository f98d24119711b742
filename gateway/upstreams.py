"""How the gateway reaches a service: over HTTP on pooled keep-alive connections
(`gateway.upstream_http`), or in-process through the service's ASGI app (single-process
mode). Both do the same two things:

- `forward()` streams one client request through and its response back. Failures before the
  response starts raise `ServiceUnavailable` (connection refused), `GatewayTimeout` or
  `BadGateway`; once the response has started a failure can only cut the stream short.
- `call()` makes one small internal request (readiness, simulation controls, OpenAPI) and
  returns the whole answer, with the same failure mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.headers import RawHeaders, downstream_response_headers, header_value
from gateway.upstream_http.connection import (
    Connection,
    ResponseHead,
    UpstreamClosed,
    UpstreamError,
)
from gateway.upstream_http.pool import ConnectFailed, ConnectionPool
from services.kit.errors import AppError, BadGateway, GatewayTimeout, ServiceUnavailable

log = logging.getLogger("cityhall.gateway.upstream")

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """One client request on its way upstream; `headers` are already rewritten."""

    scope: Scope
    receive: Receive
    headers: RawHeaders
    request_id: str
    has_body: bool


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: RawHeaders
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        value = header_value(self.headers, b"content-type") or b""
        return value.decode("latin-1").split(";")[0].strip().lower()


class Upstream(Protocol):
    name: str

    async def forward(self, request: ProxyRequest, send: Send) -> None: ...

    async def call(
        self, method: str, path: str, *, headers: RawHeaders, body: bytes, time_limit: float
    ) -> UpstreamResponse: ...


def _target(scope: Scope) -> bytes:
    raw_path = scope.get("raw_path") or quote(scope["path"]).encode()
    query = scope.get("query_string", b"")
    return bytes(raw_path) + b"?" + query if query else bytes(raw_path)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _is_event_stream(headers: RawHeaders) -> bool:
    value = header_value(headers, b"content-type") or b""
    return value.lower().startswith(b"text/event-stream")


class HttpUpstream:
    """A service behind a base URL, reached over pooled keep-alive HTTP/1.1 connections."""

    def __init__(
        self,
        name: str,
        base_url: str,
        pool: ConnectionPool,
        *,
        response_timeout: float,
        read_timeout: float,
    ) -> None:
        self.name = name
        url = urlsplit(base_url)
        self.base_path = url.path.rstrip("/").encode("latin-1")
        self.host_header = url.netloc.encode("idna")
        self.pool = pool
        self.response_timeout = response_timeout
        self.read_timeout = read_timeout

    def _failed(self, exc: UpstreamError | TimeoutError) -> AppError:
        if isinstance(exc, TimeoutError):
            return GatewayTimeout(f"{self.name} did not answer in time")
        if isinstance(exc, ConnectFailed):
            if exc.timed_out:
                return GatewayTimeout(f"{self.name} did not accept a connection in time")
            return ServiceUnavailable(f"{self.name} is not reachable")
        if isinstance(exc, UpstreamClosed):
            return BadGateway(f"{self.name} closed the connection")
        return BadGateway(f"{self.name} sent an invalid response")

    async def _exchange(
        self, method: str, target: bytes, headers: RawHeaders, send_request: SendRequest
    ) -> tuple[Connection, ResponseHead, bool]:
        """Sends the request on a pooled connection and waits for the response head.
        Returns the connection (release it to the pool when done), the head, and whether
        the request body was sent whole. A bodiless request without side effects that meets
        a reused connection the service had closed goes once more, on a new one."""
        replayable = method in _SAFE_METHODS
        retry = False
        try:
            # Waiting for a free connection counts too: event streams hold theirs for long.
            async with asyncio.timeout(self.response_timeout):
                while True:
                    connection, reused = await self.pool.acquire(fresh=retry)
                    try:
                        body_sent = await send_request(connection, method, target, headers)
                        return connection, await connection.response_head(), body_sent
                    except UpstreamClosed as exc:
                        self.pool.release(connection)
                        if replayable and reused and exc.replayable and not retry:
                            retry = True
                            continue
                        raise
                    except BaseException:
                        self.pool.release(connection)
                        raise
        except (UpstreamError, TimeoutError) as exc:
            raise self._failed(exc) from exc

    async def forward(self, request: ProxyRequest, send: Send) -> None:
        scope = request.scope
        headers = [(b"host", self.host_header), *request.headers]
        if request.has_body:
            send_request: SendRequest = partial(_send_streamed, request.receive)
        else:
            send_request = _send_bodiless
        connection, head, body_sent = await self._exchange(
            scope["method"], self.base_path + _target(scope), headers, send_request
        )
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": head.status,
                    "headers": downstream_response_headers(
                        head.headers, request_id=request.request_id
                    ),
                }
            )
            event_stream = _is_event_stream(head.headers)
            pump = self._pump(connection, send, None if event_stream else self.read_timeout)
            unbounded = event_stream or header_value(head.headers, b"content-length") is None
            if unbounded and body_sent:
                await _unless_disconnected(pump, request.receive)
            else:
                await pump
        finally:
            self.pool.release(connection)  # closed instead unless the exchange completed

    async def _pump(self, connection: Connection, send: Send, read_timeout: float | None) -> bool:
        """Copies the body as it arrives (no buffering: server-sent events flow through).
        What has arrived already is taken without a timer, and the last piece goes out with
        the end of the body, so a small response costs one ASGI message."""
        try:
            while True:
                chunk = connection.read_nowait()
                if not chunk and not connection.at_eof():
                    async with asyncio.timeout(read_timeout):
                        chunk = await connection.read()
                last = connection.at_eof()
                if chunk or last:
                    await send({"type": "http.response.body", "body": chunk, "more_body": not last})
                if last:
                    return True
        except (TimeoutError, UpstreamError) as exc:
            # Too late for a problem response: cutting the stream short tells the client.
            log.warning("%s: response body cut short: %r", self.name, exc)
            return False

    async def call(
        self, method: str, path: str, *, headers: RawHeaders, body: bytes, time_limit: float
    ) -> UpstreamResponse:
        framing = [(b"content-length", str(len(body)).encode())] if body else []
        all_headers = [(b"host", self.host_header), *headers, *framing]
        try:
            async with asyncio.timeout(time_limit):
                connection, head, _ = await self._exchange(
                    method,
                    self.base_path + path.encode("latin-1"),
                    all_headers,
                    partial(_send_whole, body),
                )
                try:
                    chunks = []
                    while chunk := await connection.read():
                        chunks.append(chunk)
                finally:
                    self.pool.release(connection)
        except TimeoutError as exc:
            raise GatewayTimeout(f"{self.name} did not answer in time") from exc
        except UpstreamError as exc:
            raise self._failed(exc) from exc
        return UpstreamResponse(head.status, head.headers, b"".join(chunks))


SendRequest = Callable[[Connection, str, bytes, RawHeaders], Awaitable[bool]]
"""Writes one request on a connection; returns whether its body went whole."""


async def _send_bodiless(
    connection: Connection, method: str, target: bytes, headers: RawHeaders
) -> bool:
    connection.send_head(method, target, headers)
    return True


async def _send_whole(
    body: bytes, connection: Connection, method: str, target: bytes, headers: RawHeaders
) -> bool:
    connection.send_head(method, target, headers, body=body)
    return True


async def _send_streamed(
    receive: Receive, connection: Connection, method: str, target: bytes, headers: RawHeaders
) -> bool:
    """The client's body as it arrives: with its Content-Length as it came, else chunked.
    A body that fits in the first ASGI message goes out with the head, in one write."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ConnectionAbortedError("client went away before the upload")
    chunk = message.get("body", b"")
    more = message.get("more_body", False)
    length = header_value(headers, b"content-length")
    if not more:
        if length is None:  # a chunked upload that came whole: say how long it is
            headers = [*headers, (b"content-length", str(len(chunk)).encode())]
        connection.send_head(method, target, headers, body=chunk)
        return True
    if length is None:
        connection.send_head(method, target, [*headers, (b"transfer-encoding", b"chunked")])
        connection.start_chunked_body()
    else:
        connection.send_head(method, target, headers)
    while True:
        if not await connection.send_body(chunk):
            # The service answered before the whole body went: it does not want the rest.
            connection.abandon_body()
            return False
        if not more:
            connection.end_body()
            return True
        message = await receive()
        if message["type"] == "http.disconnect":
            connection.abandon_body()
            raise ConnectionAbortedError("client went away during the upload")
        chunk, more = message.get("body", b""), message.get("more_body", False)


async def _unless_disconnected(pump: Any, receive: Receive) -> bool:
    """Runs `pump` until it ends or the client disconnects (an idle event stream would
    otherwise hold the upstream connection forever)."""
    pump_task: asyncio.Task[bool] = asyncio.ensure_future(pump)
    watch_task = asyncio.ensure_future(_until_disconnect(receive))
    try:
        await asyncio.wait({pump_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump_task, watch_task):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if pump_task.cancelled():
        return False
    return pump_task.result()


def _child_scope(
    scope: Scope, method: str, path: str, raw_path: bytes, query: bytes, headers: RawHeaders
) -> Scope:
    """A fresh scope for the service app: nothing of the gateway's own app leaks into it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": scope.get("http_version", "1.1"),
        "method": method,
        "scheme": scope.get("scheme", "http"),
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": scope.get("client"),
        "server": scope.get("server"),
        "state": {},
    }


class AsgiUpstream:
    """A service app in the same process: the same header handling, no sockets.

    The gateway does not run the service app's lifespan; whoever builds the app does.
    """

    def __init__(self, name: str, app: ASGIApp) -> None:
        self.name = name
        self.app = app

    async def forward(self, request: ProxyRequest, send: Send) -> None:
        scope = request.scope
        raw_path = scope.get("raw_path") or quote(scope["path"]).encode()
        child = _child_scope(
            scope,
            scope["method"],
            scope["path"],
            bytes(raw_path),
            scope.get("query_string", b""),
            request.headers,
        )
        started = False

        async def send_downstream(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = downstream_response_headers(
                    message.get("headers", []), request_id=request.request_id
                )
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(child, request.receive, send_downstream)
        except Exception as exc:
            if not started:
                raise BadGateway(f"{self.name} failed: {type(exc).__name__}") from exc
            # The service's own error handler already answered; only the log needs it.
            log.warning("%s raised after answering: %r", self.name, exc)

    async def call(
        self, method: str, path: str, *, headers: RawHeaders, body: bytes, time_limit: float
    ) -> UpstreamResponse:
        path_part, _, query = path.partition("?")
        child = _child_scope(
            {}, method, path_part, quote(path_part).encode(), query.encode(), headers
        )
        if body:
            child["headers"] = [*headers, (b"content-length", str(len(body)).encode())]
        complete = asyncio.Event()
        delivered = False
        status: int | None = None
        response_headers: RawHeaders = []
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await complete.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    complete.set()

        try:
            async with asyncio.timeout(time_limit):
                await self.app(child, receive, send)
        except TimeoutError as exc:
            raise GatewayTimeout(f"{self.name} did not answer in time") from exc
        except Exception as exc:
            if status is None:
                raise BadGateway(f"{self.name} failed: {type(exc).__name__}") from exc
        finally:
            complete.set()
        if status is None:
            raise BadGateway(f"{self.name} sent no response")
        return UpstreamResponse(status, response_headers, b"".join(chunks))
