"""`cityhall up`: the whole stack on one machine, as separate processes or in one process.

Processes: the gateway, the four services and the mail sink each run `python -m deploy.serve
NAME` with the environment the stack resolved (see `deploy.stack`). Their output is shown
line by line, prefixed with the app's name. The launcher waits until every app answers
`/healthz`, prints the URLs, then supervises: SIGINT or SIGTERM stops every child (SIGTERM,
then SIGKILL after `stop_timeout_seconds`), gateway first, mail sink last; a child that dies
on its own is named and the rest are stopped. `<var_dir>/cityhall-up.json` lists the pids
while the stack runs.

Single process: the same five apps on one event loop, each still listening on its own port;
the gateway calls the services in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from deploy.bytecode import byte_compile
from deploy.mailsink import MailSink, create_mailbox_app
from deploy.provision import SeedOutcome, migrate_all, seed_all
from deploy.serve import (
    PARENT_ENV,
    Server,
    StartupFailed,
    serve_until_stopped,
    server_config,
    watch_parent,
)
from deploy.stack import GATEWAY, MAILSINK, PID_FILE, SERVICES, AppProcess, Stack, build_service_app

HEALTH_POLL_SECONDS = 0.1
# Past the start-up timeout, an app that is still working (its CPU time grows) gets more time,
# up to this many times the timeout; one that sat idle for STALLED_SECONDS fails at once.
BUSY_EXTENSION_FACTOR = 4
STALLED_SECONDS = 5.0
FORCE_AFTER_SECONDS = 1.0


async def first_of(*futures: asyncio.Future[Any]) -> tuple[set[asyncio.Future[Any]], Any]:
    return await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)


class LaunchError(RuntimeError):
    """The stack could not start; the message says why."""


class NotHealthy(LaunchError):
    """Start-up timed out; `pending` names the apps whose `/healthz` never answered 200."""

    def __init__(self, pending: Sequence[str], after: float) -> None:
        self.pending = sorted(pending)
        self.after = after
        super().__init__(f"not healthy after {after:.1f} s: {', '.join(self.pending)}")


# --- output --------------------------------------------------------------------------------


def say(message: str, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    stream.write(f"cityhall: {message}\n")
    stream.flush()


def url_table(stack: Stack, pids: Mapping[str, int] | None = None) -> str:
    pids = pids or {}
    rows: list[tuple[str, str, str]] = []
    gateway = stack.app(GATEWAY)
    rows.append(("gateway", gateway.url, str(pids.get(GATEWAY, ""))))
    rows.append(("  API docs", f"{gateway.url}/docs", ""))
    rows.append(("  OpenAPI", f"{gateway.url}/openapi.json", ""))
    rows.append(("  JWKS", f"{gateway.url}/.well-known/jwks.json", ""))
    for name in SERVICES:
        app = stack.app(name)
        rows.append((name, app.url, str(pids.get(name, ""))))
        rows.append(("  docs", f"{app.url}/docs", ""))
    sink = stack.app(MAILSINK)
    rows.append(("mailbox page", f"{sink.url}/", str(pids.get(MAILSINK, ""))))
    rows.append(("  mailbox API", f"{sink.url}/api/messages", ""))
    rows.append(("SMTP sink", f"smtp://{sink.host}:{sink.extra_port}", ""))
    width = max(len(r[0]) for r in rows) + 2
    url_width = max(len(r[1]) for r in rows) + 2
    lines = [f"{'app':<{width}}{'url':<{url_width}}pid", "-" * (width + url_width + 7)]
    lines += [f"{what:<{width}}{url:<{url_width}}{pid}".rstrip() for what, url, pid in rows]
    return "\n".join(lines)


def seed_report(outcomes: Sequence[SeedOutcome]) -> str:
    parts = [
        f"{o.service}={o.count}" if o.count is not None else f"{o.service}=already seeded"
        for o in outcomes
    ]
    return "demo data: " + ", ".join(parts)


# --- checks --------------------------------------------------------------------------------


def check_ports_free(apps: Iterable[AppProcess]) -> None:
    """Fail early, naming the app, when a port is taken (instead of a child's traceback)."""
    taken = []
    for app in apps:
        for port in (app.port, app.extra_port):
            if port is None:
                continue
            family = socket.AF_INET6 if ":" in app.host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((app.host, port))
                except OSError as exc:
                    reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                    taken.append(f"{app.name} {app.host}:{port} ({reason})")
    if taken:
        raise LaunchError("cannot listen: " + "; ".join(taken))


async def _healthy(client: httpx.AsyncClient, url: str) -> bool:
    try:
        response = await client.get(url)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (Linux); None where it is unreadable."""
    try:
        after_name = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks = int(after_name[11]) + int(after_name[12])
    except (OSError, IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


class StartupProgress:
    """Which pending apps are still working: a slow start on a busy machine keeps using CPU
    (imports, migrations, seeding), a stuck one does not."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        # Apps served in this process cannot be told apart from the poller itself.
        self.pids = {name: pid for name, pid in pids.items() if pid != os.getpid()}
        self._cpu: dict[str, float] = {}
        self._moved: dict[str, float] = {}

    def busy(self, names: Iterable[str], now: float) -> bool:
        """True while some app in `names` used CPU in the last STALLED_SECONDS."""
        for name in names:
            pid = self.pids.get(name)
            used = cpu_seconds(pid) if pid is not None else None
            if used is None:
                continue
            if name in self._cpu and used > self._cpu[name]:
                self._moved[name] = now
            self._cpu[name] = used
        return any(
            now - self._moved.get(name, -STALLED_SECONDS) < STALLED_SECONDS for name in names
        )


async def wait_until_healthy(
    apps: Sequence[AppProcess],
    *,
    within: float,
    failed: asyncio.Future[str],
    pids: Mapping[str, int] | None = None,
) -> None:
    """Poll every app's `/healthz` until all answer 200; stop early if `failed` resolves.

    After `within` seconds the wait goes on only while a pending app is still busy (its
    process uses CPU: a loaded machine), up to BUSY_EXTENSION_FACTOR × `within`."""
    started = time.monotonic()
    deadline = started + within
    hard_deadline = started + within * BUSY_EXTENSION_FACTOR
    progress = StartupProgress(pids or {})
    pending = {app.name: app.health_url for app in apps}
    limits = httpx.Timeout(2.0)
    async with httpx.AsyncClient(timeout=limits, trust_env=False) as client:
        while pending:
            if failed.done():
                raise LaunchError(failed.result())
            results = await asyncio.gather(*(_healthy(client, u) for u in pending.values()))
            for name, ok in zip(list(pending), results, strict=True):
                if ok:
                    del pending[name]
            if not pending:
                return
            now = time.monotonic()
            busy = progress.busy(pending, now)
            if now >= hard_deadline or (now >= deadline and not busy):
                raise NotHealthy(list(pending), now - started)
            # asyncio.wait leaves `failed` alone on timeout (no shield needed) and, unlike
            # wait_for on Python 3.11, never swallows a cancel that lands as it resolves.
            await asyncio.wait([failed], timeout=HEALTH_POLL_SECONDS)


def write_pid_file(stack: Stack, mode: str, pids: Mapping[str, int]) -> Path:
    path = stack.var_dir / PID_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "launcher": os.getpid(),
        "mode": mode,
        "children": dict(pids),
        "urls": {app.name: app.url for app in stack.apps},
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def remove_pid_file(stack: Stack) -> None:
    with contextlib.suppress(FileNotFoundError):
        (stack.var_dir / PID_FILE).unlink()


async def provision(stack: Stack, *, seed: bool, out: TextIO) -> None:
    started = time.monotonic()
    await migrate_all(stack)
    say(f"migrations applied ({time.monotonic() - started:.1f} s)", out)
    if seed:
        say(seed_report(await seed_all(stack, only_first_time=True)), out)


# --- signals -------------------------------------------------------------------------------


@dataclass(slots=True)
class StopSignal:
    """Set by SIGINT/SIGTERM, or by the death of the process that started this launcher when
    it said so (`CITYHALL_PARENT_PID`: the pytest plugin, the e2e tests), so a test run
    killed with SIGKILL leaves no suite behind. Another signal a second later asks for a
    forced stop."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    first_at: float | None = None
    forced: bool = False
    received: str | None = None
    on_force: list[Any] = field(default_factory=list)
    parent_watch: asyncio.Task[None] | None = None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._handle, sig)
        self.parent_watch = asyncio.create_task(
            watch_parent(self._parent_gone, parent="the process that started cityhall up")
        )

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if self.parent_watch is not None:
            self.parent_watch.cancel()

    def _parent_gone(self) -> None:
        self.received = self.received or "the parent's exit"
        self.event.set()

    def _handle(self, sig: signal.Signals) -> None:
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        # The same Ctrl-C often arrives twice (terminal group + `uv run` forwarding it):
        # only a signal a second or more after the first one asks to force the stop.
        elif now - self.first_at >= FORCE_AFTER_SECONDS and not self.forced:
            self.forced = True
            for callback in self.on_force:
                callback()
        self.received = self.received or sig.name
        self.event.set()


# --- separate processes --------------------------------------------------------------------

STOP_ORDER = ("gateway", "service", "mailsink")


TAIL_LINES = 12


@dataclass(slots=True)
class Child:
    app: AppProcess
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None]
    tail: deque[str]  # its last lines, shown when start-up times out

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def signal(self, sig: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)


async def _pump(name: str, stream: asyncio.StreamReader, out: TextIO, tail: deque[str]) -> None:
    prefix = f"{name:>16} | "
    while True:
        line = await stream.readline()
        if not line:
            return
        text = line.decode("utf-8", errors="replace").rstrip("\n")
        tail.append(text)
        out.write(prefix + text + "\n")
        out.flush()


async def _spawn(app: AppProcess, out: TextIO) -> Child:
    env = {
        **os.environ,
        **app.env,
        PARENT_ENV: str(os.getpid()),
        "PYTHONUNBUFFERED": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.serve",
        app.name,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    pump = asyncio.create_task(_pump(app.name, process.stdout, out, tail))
    return Child(app, process, pump, tail)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


async def stop_children(children: Sequence[Child], *, grace: float, out: TextIO) -> None:
    """SIGTERM each group in STOP_ORDER, wait up to `grace` s, then SIGKILL what is left."""
    for role in STOP_ORDER:
        group = [c for c in children if c.app.role == role and c.running]
        for child in group:
            child.signal(signal.SIGTERM)
        waits = [asyncio.create_task(c.process.wait()) for c in group]
        if not waits:
            continue
        _done, pending = await asyncio.wait(waits, timeout=grace)
        if pending:
            for child in group:
                if child.running:
                    say(f"{child.app.name} did not stop in {grace:.0f} s; killing it", out)
                    child.signal(signal.SIGKILL)
            await asyncio.gather(*pending)
    for child in children:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.pump, 2)


async def supervise(
    stack: Stack,
    stop: StopSignal,
    died: asyncio.Future[str],
    out: TextIO,
    *,
    pids: dict[str, int],
    banner: str,
    tails: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Waits until every app is healthy and prints the URLs, then until an app dies or a stop
    signal arrives. Returns the exit code: 0 for a requested stop, 1 for a failure."""
    stop_waiter = asyncio.create_task(stop.event.wait())
    try:
        startup = asyncio.create_task(
            wait_until_healthy(
                stack.apps, within=stack.launcher.startup_timeout_seconds, failed=died, pids=pids
            )
        )
        done, _ = await first_of(startup, stop_waiter)
        if startup not in done:
            startup.cancel()
            say(f"{stop.received} received during startup; stopping", out)
            return 0
        try:
            startup.result()
        except NotHealthy as exc:
            say(f"startup failed: {exc}; stopping the others", out)
            for name in exc.pending:
                lines = (tails or {}).get(name)
                if lines is not None:
                    say(f"last lines of {name}:" if lines else f"{name} printed nothing", out)
                    for line in lines:
                        out.write(f"    {line}\n")
            limit = stack.launcher.startup_timeout_seconds
            say(
                f"on a slow or busy machine allow more time with"
                f" CITYHALL_STARTUP_TIMEOUT_SECONDS (now {limit:.0f}; an app still using CPU"
                f" gets up to {BUSY_EXTENSION_FACTOR}× that)",
                out,
            )
            return 1
        except LaunchError as exc:
            say(f"startup failed: {exc}; stopping the others", out)
            return 1
        out.write("\n" + url_table(stack, pids) + "\n\n")
        if stack.gateway.demo_identities:
            from deploy.demo_identities import describe

            out.write(describe(stack.gateway) + "\n\n")
        say(f"{banner}; press Ctrl-C to stop", out)
        done, _ = await first_of(died, stop_waiter)
        if died in done:
            say(f"{died.result()}; stopping the others", out)
            return 1
        say(f"{stop.received} received; stopping", out)
        return 0
    finally:
        stop_waiter.cancel()


async def run_processes(stack: Stack, *, seed: bool, out: TextIO = sys.stdout) -> int:
    stop = StopSignal()
    stop.install()
    children: list[Child] = []

    def kill_all() -> None:
        for child in children:
            child.signal(signal.SIGKILL)

    stop.on_force.append(kill_all)
    try:
        await asyncio.gather(provision(stack, seed=seed, out=out), asyncio.to_thread(byte_compile))
        if stop.event.is_set():
            return 0
        # Mail sink and services before the gateway, so its first readiness check can pass.
        order = sorted(stack.apps, key=lambda a: STOP_ORDER.index(a.role), reverse=True)
        for app in order:
            children.append(await _spawn(app, out))
        pids = {c.app.name: c.process.pid for c in children}
        write_pid_file(stack, "processes", pids)
        say("started " + ", ".join(f"{n} (pid {p})" for n, p in pids.items()), out)

        loop = asyncio.get_running_loop()
        died: asyncio.Future[str] = loop.create_future()

        async def watch(child: Child) -> None:
            code = await child.process.wait()
            # A terminal's Ctrl-C reaches the children too; give our handler a moment.
            await asyncio.sleep(0.3)
            if not stop.event.is_set() and not died.done():
                died.set_result(f"{child.app.name} {_describe_exit(code)}")

        watchers = [asyncio.create_task(watch(c)) for c in children]
        try:
            return await supervise(
                stack,
                stop,
                died,
                out,
                pids=pids,
                banner=f"up (var dir {stack.var_dir})",
                tails={c.app.name: c.tail for c in children},
            )
        finally:
            for task in watchers:
                task.cancel()
    finally:
        await stop_children(children, grace=stack.launcher.stop_timeout_seconds, out=out)
        remove_pid_file(stack)
        stop.uninstall()
        if children:
            say(
                "stopped "
                + ", ".join(
                    f"{c.app.name} {_describe_exit(c.process.returncode)}" for c in children
                ),
                out,
            )


# --- one process ---------------------------------------------------------------------------


async def run_single_process(stack: Stack, *, seed: bool, out: TextIO = sys.stdout) -> int:
    from gateway.app import create_app as gateway_app
    from gateway.settings import GatewaySettings

    stop = StopSignal()
    stop.install()
    sink: MailSink | None = None
    tasks: dict[str, asyncio.Task[None]] = {}
    servers: dict[str, Server] = {}

    def force() -> None:
        for server in servers.values():
            server.force_exit = True

    stop.on_force.append(force)
    try:
        await provision(stack, seed=seed, out=out)
        if stop.event.is_set():
            return 0
        # Migrated above, one after the other: Alembic cannot run two upgrades at once in
        # one process, which is what five lifespans starting together would do.
        environment = stack.environment()
        for kind in SERVICES.values():
            environment[f"{kind.env_prefix}MIGRATE_ON_START"] = "false"
        environment["GATEWAY_MIGRATE_ON_START"] = "false"
        os.environ.update(environment)

        service_apps = {name: build_service_app(name) for name in SERVICES}
        gateway_settings = GatewaySettings()
        gateway = gateway_app(gateway_settings, upstream_apps=service_apps)
        launcher = stack.launcher
        sink = MailSink(launcher.host, launcher.smtp_port, capacity=launcher.mailbox_capacity)
        await sink.serve()

        for name, app in service_apps.items():
            proc = stack.app(name)
            servers[name] = Server(server_config(app, proc.host, proc.port))
        servers[GATEWAY] = Server(
            server_config(gateway, gateway_settings.host, gateway_settings.port, front_door=True)
        )
        mailbox = stack.app(MAILSINK)
        servers[MAILSINK] = Server(
            server_config(create_mailbox_app(sink), mailbox.host, mailbox.port, lifespan="off")
        )
        tasks = {n: asyncio.create_task(serve_until_stopped(s, n)) for n, s in servers.items()}
        write_pid_file(stack, "single-process", {})

        loop = asyncio.get_running_loop()
        died: asyncio.Future[str] = loop.create_future()

        def on_done(name: str, task: asyncio.Task[None]) -> None:
            if stop.event.is_set() or died.done() or task.cancelled():
                return
            error = task.exception()
            died.set_result(f"{name} {'failed: ' + str(error) if error else 'stopped'}")

        for name, task in tasks.items():
            task.add_done_callback(lambda t, n=name: on_done(n, t))  # type: ignore[misc]

        return await supervise(
            stack,
            stop,
            died,
            out,
            pids={n: os.getpid() for n in servers},
            banner=f"up in one process (var dir {stack.var_dir})",
        )
    finally:
        await stop_servers(servers, tasks, grace=stack.launcher.stop_timeout_seconds, out=out)
        if sink is not None:
            await sink.close()
        remove_pid_file(stack)
        stop.uninstall()
        say("stopped", out)


async def stop_servers(
    servers: Mapping[str, Server],
    tasks: Mapping[str, asyncio.Task[None]],
    *,
    grace: float,
    out: TextIO,
) -> None:
    groups = [[GATEWAY], list(SERVICES), [MAILSINK]]
    for group in groups:
        names = [n for n in group if n in tasks]
        for name in names:
            servers[name].should_exit = True
        waiting = [tasks[n] for n in names]
        if not waiting:
            continue
        _done, pending = await asyncio.wait(waiting, timeout=grace)
        for name in names:
            if tasks[name] in pending:
                say(f"{name} did not stop in {grace:.0f} s; cancelling it", out)
                servers[name].force_exit = True
                tasks[name].cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    for task in tasks.values():
        if not task.cancelled() and task.done() and isinstance(task.exception(), StartupFailed):
            say(str(task.exception()), out)
