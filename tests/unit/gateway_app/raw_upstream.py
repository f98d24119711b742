"""Servers for the tests of the gateway's upstream HTTP client: raw TCP servers on an
ephemeral port that read the request bytes and write exactly the bytes a test gives them
(so the framing is the test's to choose), and uvicorn, the server the services run on."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

from deploy.serve import Server


class Peer:
    """One connection the server accepted, as the server sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.requests: list[bytes] = []
        """Each whole request read with `read_request`, exactly as it came."""
        self.gone: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        """Set once the client is seen gone: True when it closed, False if it reset."""

    async def read_request(self) -> bytes:
        """One request, head and body with their framing (Content-Length or chunked)."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        fields = head.lower().split(b"\r\n")
        length = next((int(f[15:]) for f in fields if f.startswith(b"content-length:")), 0)
        if b"transfer-encoding: chunked" in fields:
            body = b""
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                body += size_line + await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            body = await self.reader.readexactly(length)
        self.requests.append(head + body)
        return head + body

    async def read_some(self) -> bytes:
        """What the next receive on the socket gives."""
        return await self.reader.read(1 << 20)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_client_closes(self) -> None:
        """Reads (and drops) everything until the client closes the connection."""
        try:
            while await self.reader.read(1 << 16):
                pass
        except ConnectionResetError:
            self.gone.set_result(False)
        else:
            self.gone.set_result(True)

    def close(self) -> None:
        self.writer.close()

    def reset(self) -> None:
        """Closes with a TCP RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Peer], Awaitable[None]]


class RawServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.port = 0
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def accepts(self) -> int:
        return len(self.peers)

    @property
    def requests(self) -> list[bytes]:
        """Every request read, in order of the connections, then of arrival."""
        return [request for peer in self.peers for request in peer.requests]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(reader, writer)
        self.peers.append(peer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(peer)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            # The client went away: the test looks at what it got.
            if not peer.gone.done():
                peer.gone.set_result(not isinstance(exc, ConnectionResetError))
        except asyncio.CancelledError:
            pass  # the test is over (ending quietly: uvloop logs a cancelled handler)
        except Exception as exc:
            self.errors.append(exc)
        finally:
            self._tasks.discard(task)
            writer.close()


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[RawServer]:
    """Runs `handler` for each connection accepted on 127.0.0.1; errors in it fail the test."""
    server = RawServer(handler)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for task in list(server._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await listener.wait_closed()
    if server.errors:
        raise server.errors[0]


def answering(*responses: bytes) -> Handler:
    """A handler that answers the requests, across connections, with `responses` in turn,
    then waits for the client to close the connection."""
    queue = list(responses)

    async def handler(peer: Peer) -> None:
        while queue:
            await peer.read_request()
            await peer.send(queue.pop(0))
        await peer.until_client_closes()

    return handler


@asynccontextmanager
async def uvicorn_server(app: ASGIApp, *, keep_alive: int = 5) -> AsyncIterator[int]:
    """`app` behind uvicorn (httptools, as the services run) on a free port: its port."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        http="httptools",
        lifespan="off",
        access_log=False,
        log_config=None,
        timeout_keep_alive=keep_alive,
    )
    server = Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task
