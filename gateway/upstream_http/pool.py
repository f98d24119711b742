"""Keep-alive connections to one service, reused newest first, at most `limit` open.

An idle connection is closed after `keepalive_seconds` (set below the service's own
keep-alive, so the gateway, not the service, ends idle connections, and a request is rarely
sent on a connection the service is closing at that moment).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque

from gateway.upstream_http.connection import Connection, UpstreamError


class ConnectFailed(UpstreamError):
    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class ConnectionPool:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        limit: int,
        keepalive_seconds: float,
        connect_timeout: float,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.limit = limit
        self.keepalive_seconds = keepalive_seconds
        self.connect_timeout = connect_timeout
        self._idle: list[Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._reaper: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._open

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def acquire(self, *, fresh: bool = False) -> tuple[Connection, bool]:
        """A connection for one exchange, and whether it was used before (a reused one may
        turn out to have been closed by the service meanwhile). `fresh`: a new connection,
        for the retry after a stale one; the idle ones, likely gone idle with it and closed
        by the same keep-alive timer, are closed too."""
        while True:
            if self._closed:
                raise ConnectFailed("the gateway is shutting down", timed_out=False)
            if fresh:
                self._close_idle()
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed:
                    return connection, True
                self._open -= 1
            if self._open < self.limit:
                self._open += 1
                try:
                    return await self._connect(), False
                except BaseException:
                    self._open -= 1
                    self._wake_one()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if not waiter.cancelled():
                    self._wake_one()  # woken, but leaving: the turn goes to the next waiter
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    Connection, self.host, self.port, ssl=self.tls
                )
        except TimeoutError as exc:
            raise ConnectFailed("connecting timed out", timed_out=True) from exc
        except OSError as exc:
            raise ConnectFailed(f"cannot connect: {exc.strerror or exc}", timed_out=False) from exc
        return connection

    def release(self, connection: Connection) -> None:
        """Back to the pool when it can serve another request; closed otherwise."""
        if connection.reusable and not self._closed:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
            if self._reaper is None:
                self._reaper = asyncio.get_running_loop().call_later(
                    self.keepalive_seconds, self._reap
                )
        else:
            connection.close()
            self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _reap(self) -> None:
        """Closes connections idle for longer than the keep-alive."""
        self._reaper = None
        deadline = time.monotonic() - self.keepalive_seconds
        kept: list[Connection] = []
        for connection in self._idle:
            if connection.closed or connection.idle_since <= deadline:
                connection.close()
                self._open -= 1
            else:
                kept.append(connection)
        self._idle = kept
        if kept:
            oldest = min(c.idle_since for c in kept)
            delay = max(0.05, oldest + self.keepalive_seconds - time.monotonic())
            self._reaper = asyncio.get_running_loop().call_later(delay, self._reap)
        self._wake_one()

    def _close_idle(self) -> None:
        for connection in self._idle:
            connection.close()
        self._open -= len(self._idle)
        self._idle = []

    def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        self._close_idle()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
