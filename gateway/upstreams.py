"""How the gateway reaches a service: over HTTP with the shared aiohttp pool, or in-process
through the service's ASGI app (single-process mode). Both do the same two things:

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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from gateway.headers import RawHeaders, downstream_response_headers, header_value
from services.kit.errors import BadGateway, GatewayTimeout, ServiceUnavailable

log = logging.getLogger("cityhall.gateway.upstream")

# aiohttp must add nothing of its own: no compression the client did not ask for.
SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
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


def _str_headers(headers: RawHeaders) -> list[tuple[str, str]]:
    """aiohttp writes header values as UTF-8: decode so that valid UTF-8 survives unchanged."""
    out = []
    for key, value in headers:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("latin-1")
        out.append((key.decode("latin-1"), text))
    return out


def _target(scope: Scope) -> str:
    raw_path = scope.get("raw_path") or quote(scope["path"]).encode()
    target = bytes(raw_path).decode("latin-1")
    query = scope.get("query_string", b"")
    return f"{target}?{query.decode('latin-1')}" if query else target


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _is_event_stream(headers: RawHeaders) -> bool:
    value = header_value(headers, b"content-type") or b""
    return value.lower().startswith(b"text/event-stream")


class HttpUpstream:
    """A service behind a base URL, reached over the gateway's one pooled aiohttp session."""

    def __init__(
        self,
        name: str,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        response_timeout: float,
        read_timeout: float,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.response_timeout = response_timeout
        self.read_timeout = read_timeout

    async def _request_body(self, receive: Receive, done: asyncio.Event) -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionAbortedError("client went away during the upload")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                done.set()
                return

    async def _open(
        self, request: ProxyRequest, body_done: asyncio.Event
    ) -> aiohttp.ClientResponse:
        scope = request.scope
        url = URL(self.base_url + _target(scope), encoded=True)
        headers = _str_headers(request.headers)
        # A pooled keep-alive connection the upstream closed meanwhile fails on first use;
        # a request without a body and without side effects can safely go once more.
        retry = scope["method"] in _SAFE_METHODS and not request.has_body
        for attempt in (1, 2):
            data = self._request_body(request.receive, body_done) if request.has_body else None
            try:
                async with asyncio.timeout(self.response_timeout):
                    return await self.session.request(
                        scope["method"],
                        url,
                        headers=headers,
                        data=data,
                        allow_redirects=False,
                        skip_auto_headers=SKIP_AUTO_HEADERS,
                    )
            except aiohttp.ServerDisconnectedError as exc:
                if retry and attempt == 1:
                    continue
                raise BadGateway(f"{self.name} closed the connection") from exc
            except TimeoutError as exc:
                raise GatewayTimeout(f"{self.name} did not answer in time") from exc
            except aiohttp.ClientConnectorError as exc:
                raise ServiceUnavailable(f"{self.name} is not reachable") from exc
            except (aiohttp.ClientError, ConnectionAbortedError) as exc:
                raise BadGateway(f"{self.name} failed: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def forward(self, request: ProxyRequest, send: Send) -> None:
        body_done = asyncio.Event()
        if not request.has_body:
            body_done.set()
        response = await self._open(request, body_done)
        completed = False
        try:
            raw = list(response.raw_headers)
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": downstream_response_headers(raw, request_id=request.request_id),
                }
            )
            event_stream = _is_event_stream(raw)
            pump = self._pump(response, send, None if event_stream else self.read_timeout)
            unbounded = event_stream or header_value(raw, b"content-length") is None
            if unbounded and body_done.is_set():
                completed = await _unless_disconnected(pump, request.receive)
            else:
                completed = await pump
        finally:
            if completed:
                response.release()
            else:
                response.close()

    async def _pump(
        self, response: aiohttp.ClientResponse, send: Send, read_timeout: float | None
    ) -> bool:
        """Copies the body as it arrives (no buffering: server-sent events flow through).
        What has arrived already is taken without a timer, and the last piece goes out with
        the end of the body, so a small response costs one ASGI message."""
        content = response.content
        try:
            while True:
                chunk = content.read_nowait()
                if not chunk and not content.is_eof():
                    async with asyncio.timeout(read_timeout):
                        chunk = await content.readany()
                last = content.at_eof()
                if chunk or last:
                    await send({"type": "http.response.body", "body": chunk, "more_body": not last})
                if last:
                    return True
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Too late for a problem response: cutting the stream short tells the client.
            log.warning("%s: response body cut short: %r", self.name, exc)
            return False

    async def call(
        self, method: str, path: str, *, headers: RawHeaders, body: bytes, time_limit: float
    ) -> UpstreamResponse:
        try:
            async with self.session.request(
                method,
                URL(self.base_url + path),
                headers=_str_headers(headers),
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=time_limit),
            ) as response:
                payload = await response.read()
                return UpstreamResponse(response.status, list(response.raw_headers), payload)
        except TimeoutError as exc:
            raise GatewayTimeout(f"{self.name} did not answer in time") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ServiceUnavailable(f"{self.name} is not reachable") from exc
        except aiohttp.ClientError as exc:
            raise BadGateway(f"{self.name} failed: {type(exc).__name__}") from exc


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
