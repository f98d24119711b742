"""One keep-alive HTTP/1.1 connection to a service: an `asyncio.Protocol` that parses
responses with httptools (llhttp, the parser uvicorn's server side uses).

The proxy needs little of a general client: one request at a time per connection, the
request head written in one piece, a streamed request body, the response head, then the
body as it arrives with flow control both ways. That is what this does, at about a third
of the CPU aiohttp's client spends on the same exchange (measured in bench/RESULTS.md).

Errors are `UpstreamError`s: `UpstreamClosed` when the connection ended before the
response was complete (`replayable` when nothing at all came back, which is how a reused
keep-alive connection that the service closed meanwhile fails), `InvalidResponse` when the
bytes are not HTTP.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from dataclasses import dataclass
from typing import cast

import httptools

RawHeaders = list[tuple[bytes, bytes]]

READ_HIGH_WATER = 256 * 1024
"""Response bytes buffered before the connection stops reading from the service (until
they are read)."""

_NO_BODY_STATUSES = frozenset({204, 304})


class UpstreamError(Exception):
    """The exchange with the service failed."""


class UpstreamClosed(UpstreamError):
    def __init__(self, message: str, *, replayable: bool) -> None:
        super().__init__(message)
        self.replayable = replayable
        """Nothing came back: the request may not even have been read."""


class InvalidResponse(UpstreamError):
    """What came back is not an HTTP/1.1 response."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    headers: RawHeaders


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class Connection(asyncio.Protocol):
    """Use: `send_head`, then `send_body` / `end_body` if there is a body, `response_head`,
    then `read` until it returns b"" (or `read_nowait` for what has arrived). `reusable`
    says whether the connection can serve another request afterwards."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        """No request can go on this connection any more."""
        self.idle_since = 0.0
        self.requests = 0
        self._eof = False
        # the exchange in progress (none yet: any response would be unsolicited)
        self._head_method = False
        self._chunked_request = False
        self._body_unfinished = False
        """A request body was begun and not ended: the service would read the rest of it
        as the next request."""
        self._headers: RawHeaders = []
        self._informational = False
        self._head: ResponseHead | None = None
        self._until_close = False
        self._received_any = False
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._complete = True
        self._keep_alive = False
        self._error: UpstreamError | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._waiter: asyncio.Future[None] | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(InvalidResponse("the service switched protocols"))
        except httptools.HttpParserError as exc:
            ours = exc.__context__  # raised by a callback of ours
            if not isinstance(ours, InvalidResponse):
                ours = InvalidResponse(f"the service sent an invalid response: {exc}")
            self._fail(ours)

    def eof_received(self) -> bool | None:
        self._eof = True
        self.close()  # whatever is still unsent is of no use now
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._complete and self._error is None:
            if self._until_close and self._eof and exc is None:
                self._complete = True  # a body delimited by the end of the connection
            else:
                self._error = self._closed_error()
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake()

    # --- httptools callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            # Without pipelining, nothing may follow a response until the next request.
            raise InvalidResponse("the service sent more than its response")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        headers = self._headers
        self._headers = []  # a chunked body's trailer fields are not the head's
        status = self._parser.get_status_code()
        if status < 200:
            # 100 Continue and friends: not the answer; the final response follows.
            self._informational = True
            return
        self._head = ResponseHead(status, headers)
        if self._head_method:
            # llhttp would wait for the body a HEAD answer announces but never sends: the
            # exchange ends here, and the connection is not reused (see `reusable`).
            self._complete = True
        elif status not in _NO_BODY_STATUSES:
            framed = any(k in (b"content-length", b"transfer-encoding") for k, _ in headers)
            self._until_close = not framed
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > READ_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            if self._transport is not None:
                self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()
        self._wake()

    # --- the exchange -------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self._error is None:
            self._error = error
        self.close()
        self._wake()

    def _closed_error(self) -> UpstreamClosed:
        started = self._head is not None or self._received_any
        detail = "during the response" if started else "before responding"
        return UpstreamClosed(f"the service closed the connection {detail}", replayable=not started)

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def send_head(
        self, method: str, target: bytes, headers: RawHeaders, *, body: bytes | None = None
    ) -> None:
        """Writes the request line and headers (and `body`, when it is all there is) in one
        write. Without `body`, a request with a body follows with `send_body`/`end_body`:
        chunked unless `headers` carry a Content-Length."""
        assert self._transport is not None
        self.requests += 1
        self._reset_exchange()
        self._head_method = method == "HEAD"
        parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"\r\n")
        if body:
            parts.append(body)
        self._transport.write(b"".join(parts))

    def _reset_exchange(self) -> None:
        self._body_unfinished = False
        self._headers = []
        self._head = None
        self._until_close = False
        self._received_any = False
        self._body.clear()
        self._buffered = 0
        self._complete = False
        self._keep_alive = False
        self._error = None

    def start_chunked_body(self) -> None:
        self._chunked_request = True
        self._body_unfinished = True

    async def send_body(self, data: bytes) -> bool:
        """Writes a piece of the request body; False when the service has already answered
        (or failed), so the rest of the body is not wanted."""
        self._body_unfinished = True
        if not data:
            return not self._answered()
        while self._writing_paused and not self._answered():
            await self._wait()
        if self._answered():
            return False
        assert self._transport is not None
        self._transport.write(_chunk(data) if self._chunked_request else data)
        return True

    def end_body(self) -> None:
        if self._chunked_request and not self.closed:
            assert self._transport is not None
            self._transport.write(b"0\r\n\r\n")
        self._chunked_request = False
        self._body_unfinished = False

    def abandon_body(self) -> None:
        """The request body stopped short: the connection can serve no other request (it is
        closed when released), but an answer the service has begun still arrives whole."""
        self._chunked_request = False
        self._body_unfinished = True

    def _answered(self) -> bool:
        return self._head is not None or self._error is not None or self.closed

    async def response_head(self) -> ResponseHead:
        while self._head is None:
            if self._error is not None:
                raise self._error
            if self.closed:
                raise self._closed_error()
            await self._wait()
        return self._head

    def read_nowait(self) -> bytes:
        """What of the body has arrived, joined; b"" when nothing has (see `at_eof`)."""
        if not self._body:
            return b""
        data = self._body.popleft() if len(self._body) == 1 else b"".join(self._body)
        self._body.clear()
        self._buffered = 0
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        return data

    def at_eof(self) -> bool:
        """The whole body has been read."""
        return self._complete and not self._body

    async def read(self) -> bytes:
        """The next piece of the body; b"" at its end. Raises if the body was cut short."""
        while True:
            data = self.read_nowait()
            if data or self._complete:
                return data
            if self._error is not None:
                raise self._error
            await self._wait()

    @property
    def reusable(self) -> bool:
        return (
            self._complete
            and self._keep_alive
            and not self._body_unfinished
            and not self._body
            and self._error is None
            and not self.closed
            and not self._head_method
        )

    def close(self) -> None:
        """Ends the connection now: anything not yet sent is of no use to anyone."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()
