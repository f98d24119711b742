"""Run one app of the stack in this process: `python -m deploy.serve <name>`.

`<name>` is `gateway`, a service name, or `mailsink`. Settings come from the environment
(the launcher sets them). One uvicorn server, uvloop and httptools when available. SIGINT or
SIGTERM stops it gracefully; so does the death of the launcher (`CITYHALL_PARENT_PID`), so a
killed launcher never leaves servers behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

from deploy.coalesced_writes import CoalescingHttpToolsProtocol
from deploy.mailsink import MailSink, create_mailbox_app
from deploy.stack import GATEWAY, MAILSINK, SERVICES, LauncherSettings, build_service_app

PARENT_ENV = "CITYHALL_PARENT_PID"
LOG_FORMAT = "%(levelname)-7s %(name)s: %(message)s"

log = logging.getLogger("cityhall.serve")


def has_uvloop() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def has_httptools() -> bool:
    return importlib.util.find_spec("httptools") is not None


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not has_uvloop():
        return None
    import uvloop

    return uvloop.new_event_loop


T = TypeVar("T")


def run_main(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop when it is installed (the stdlib loop otherwise)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


class Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner (several share one loop)
    and says when it listens (`listening`), so its owner need not poll."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()

    @property
    def port(self) -> int:
        """The port it listens on (the one the kernel chose for port 0)."""
        port: int = self.servers[0].sockets[0].getsockname()[1]
        return port


def server_config(
    app: ASGIApp, host: str, port: int, *, lifespan: str = "on", front_door: bool = False
) -> uvicorn.Config:
    """`front_door`: the gateway, which reads X-Forwarded-* itself, and only when told it sits
    behind a trusted proxy. uvicorn would otherwise take them from any local client and the
    gateway would rate-limit and audit an address the client chose. The services keep
    uvicorn's default: they trust the forwarding headers of the gateway on 127.0.0.1."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=not front_door,
        loop="uvloop" if has_uvloop() else "asyncio",
        http=CoalescingHttpToolsProtocol if has_httptools() else "h11",
        lifespan=lifespan,  # type: ignore[arg-type]
        workers=1,
        access_log=False,  # the kit's middleware writes the access log
        log_config=None,  # logging is configured once, by `configure_logging`
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=5,
    )


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)
    for quiet in ("aiosqlite", "alembic", "httpx", "httpcore"):
        logging.getLogger(quiet).setLevel(logging.WARNING)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


PARENT_POLL_SECONDS = 0.5


async def watch_parent(on_gone: Callable[[], None], *, parent: str = "the launcher") -> None:
    """Calls `on_gone` once the process named by `CITYHALL_PARENT_PID` (the one that started
    this one) is gone, even by SIGKILL: this process was re-parented. Without the variable,
    nothing to watch. (A poll: a parent's death sends its children nothing by itself.)"""
    expected = os.environ.get(PARENT_ENV)
    if not expected:
        return
    while True:
        if os.getppid() != int(expected):
            log.warning("%s (pid %s) is gone; stopping", parent, expected)
            on_gone()
            return
        await asyncio.sleep(PARENT_POLL_SECONDS)


class StartupFailed(RuntimeError):
    pass


async def serve_until_stopped(
    server: Server, name: str, sockets: list[socket.socket] | None = None
) -> None:
    """`server.serve()`, with uvicorn's `sys.exit` on a failed start turned into an error.
    `sockets`: already bound (so nobody takes the port between choosing and listening)."""
    try:
        await server.serve(sockets)
    except SystemExit as exc:
        raise StartupFailed(f"{name} failed to start (exit code {exc.code})") from None


async def _serve_app(name: str) -> int:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    watcher = asyncio.create_task(watch_parent(stop.set))
    servers: list[tuple[str, Server]] = []
    sink: MailSink | None = None
    if name == GATEWAY:
        from gateway.app import create_app as gateway_app
        from gateway.settings import GatewaySettings

        settings = GatewaySettings()
        app = gateway_app(settings)
        config = server_config(app, settings.host, settings.port, front_door=True)
        servers.append((name, Server(config)))
    elif name in SERVICES:
        settings_ = SERVICES[name].settings()
        app = build_service_app(name)
        servers.append((name, Server(server_config(app, settings_.host, settings_.port))))
    elif name == MAILSINK:
        launcher = LauncherSettings()
        sink = MailSink(launcher.host, launcher.smtp_port, capacity=launcher.mailbox_capacity)
        await sink.serve()
        log.info("SMTP sink listening on %s:%s", launcher.host, sink.port)
        mailbox = create_mailbox_app(sink)
        config = server_config(mailbox, launcher.host, launcher.mailbox_port, lifespan="off")
        servers.append(("mailbox", Server(config)))
    else:
        raise SystemExit(f"unknown app {name!r}")

    tasks = [asyncio.create_task(serve_until_stopped(s, n)) for n, s in servers]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for _n, server in servers:
            server.should_exit = True
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            log.error("%s", failure)
        if stopper not in done and not failures:
            log.error("%s stopped on its own", name)
            return 1
        return 1 if failures else 0
    finally:
        stopper.cancel()
        watcher.cancel()
        if sink is not None:
            await sink.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        names = ", ".join([GATEWAY, *SERVICES, MAILSINK])
        print(f"usage: python -m deploy.serve NAME   (one of: {names})", file=sys.stderr)
        return 2
    configure_logging(os.environ.get("CITYHALL_LOG_LEVEL", "INFO"))
    return run_main(_serve_app(args[0]))


if __name__ == "__main__":
    raise SystemExit(main())
