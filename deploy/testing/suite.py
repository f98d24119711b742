"""The whole suite for a test session: the gateway, the four services and the mail sink, each
on a free port, on fresh databases, seeded with the demo city and the demo identities.

In process (the default): every app is served by its own uvicorn server on one event loop,
on a thread of its own (`LoopThread`), so tests reach it over real HTTP whatever loop they run
on. The databases are copies of a migrated and seeded template (`template.py`) on SQLite, or
throw-away PostgreSQL databases migrated and seeded for the session.

As processes: `cityhall up` itself, in a process group of its own, stopped with SIGINT (and
killed if it does not stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from deploy.testing.ports import bound_sockets, free_ports

if TYPE_CHECKING:
    from deploy.serve import Server
    from gateway.settings import GatewaySettings

Mode = Literal["in-process", "processes"]
SERVICE_NAMES = ("e_application", "facility_booking", "alert_mail", "payments_mock")
FEE_SERVICES = ("e_application", "facility_booking")
READY_WITHIN_SECONDS = 300.0  # six processes starting on a small, busy CI machine
STOP_WITHIN_SECONDS = 30.0
PG_TEMPLATE_PREFIX = "cityhall_tpl_"
PG_TEMPLATE_LOCK = 0x63697479  # pg_advisory_lock key of the plugin's template databases
# Tests log in often: hashing at the OWASP cost would dominate their run time.
TEST_PASSWORD_HASHING = {"password_hash_memory_kib": 64, "password_hash_time_cost": 1}


@dataclass(frozen=True, slots=True)
class SuiteOptions:
    mode: Mode = "in-process"
    database_server: str | None = None  # a PostgreSQL URL: fresh databases there
    cache_dir: Path | None = None  # where templates are kept (SQLite, in process)


@dataclass(slots=True)
class Suite:
    """Where the running suite is: what every fixture and helper starts from."""

    mode: Mode
    gateway_url: str
    mailbox_url: str
    smtp_port: int
    service_urls: dict[str, str]
    var_dir: Path
    demo_client_secret: str
    ready_seconds: float = 0.0  # from the first fixture's request to ready
    extras: dict[str, Any] = field(default_factory=dict)

    def card_path(self, user: str = "hanako") -> Path:
        """The JPKI card file of a demo citizen (`hanako` has one)."""
        from deploy.demo_identities import DEMO_DIR, identity

        card = identity(user).account.card_file
        if card is None:
            raise LookupError(f"{user} has no JPKI card file")
        return self.var_dir / DEMO_DIR / card


def _demo_client_secret(settings: GatewaySettings) -> str:
    from gateway.settings import DEMO_CLIENT_ID

    client = settings.service_clients.get(DEMO_CLIENT_ID)
    if client is None:
        raise LookupError("the demo client is off (GATEWAY_DEMO_IDENTITIES)")
    return client.secret.get_secret_value()


def _gateway_defaults() -> dict[str, Any]:
    """What the plugin changes unless the environment says otherwise."""
    values: dict[str, Any] = {}
    if not any(k.startswith("GATEWAY_PASSWORD_HASH_") for k in os.environ):
        values.update(TEST_PASSWORD_HASHING)
    if "GATEWAY_RATE_LIMITS" not in os.environ:
        from gateway.rate_limit.settings import RateLimitSettings

        values["rate_limits"] = RateLimitSettings(enabled=False)
    return values


PORT_NAMES = ("gateway", *SERVICE_NAMES, "smtp", "mailbox")


def _ports() -> dict[str, int]:
    return dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))


def _sockets() -> dict[str, socket.socket]:
    return dict(zip(PORT_NAMES, bound_sockets(len(PORT_NAMES)), strict=True))


def _overrides(
    var_dir: Path, ports: Mapping[str, int], databases: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {
        "launcher": {
            "var_dir": var_dir,
            "smtp_port": ports["smtp"],
            "mailbox_port": ports["mailbox"],
        },
        "gateway": {
            "port": ports["gateway"],
            "database_url": databases["gateway"],
            "migrate_on_start": False,
            **_gateway_defaults(),
        },
    }
    for name in SERVICE_NAMES:
        overrides[name] = {
            "port": ports[name],
            "database_url": databases[name],
            "migrate_on_start": False,
        }
    return overrides


def _sqlite_urls(var_dir: Path) -> dict[str, str]:
    return {n: f"sqlite+aiosqlite:///{var_dir / n}.db" for n in ("gateway", *SERVICE_NAMES)}


async def _provision_template(var_dir: Path, cache_dir: Path) -> None:
    """Copies the template for this code and environment, building it first if needed."""
    from deploy.provision import migrate_all, seed_all
    from deploy.stack import LauncherSettings, resolve_stack
    from deploy.testing import template

    key = _template_key(LauncherSettings().seed_file)
    target = cache_dir / f"template-{key}"
    if not target.is_dir():
        built = await asyncio.to_thread(template.build_dir, cache_dir)
        overrides = _overrides(built, _ports(), _sqlite_urls(built))
        stack = resolve_stack(var_dir=built, overrides=overrides)
        await migrate_all(stack)
        await seed_all(stack)
        await asyncio.to_thread(template.publish, built, target)
    await asyncio.to_thread(template.copy_template, target, var_dir)


def _template_key(seed_file: Path, *, server: str | None = None) -> str:
    from deploy.testing import template

    shaping: dict[str, Any] = dict(_gateway_defaults())
    if server is not None:
        shaping["database_server"] = server
    return template.template_key(seed_file, shaping)


async def _clone(server: str, template: str, prefix: str) -> str:
    from deploy.testing.databases import admin_connection, clone_database

    async with admin_connection(server) as admin:
        return await clone_database(admin, template, prefix=prefix)


async def _drop(server: str, database: str) -> None:
    from deploy.testing.databases import admin_connection, drop_database

    async with admin_connection(server) as admin:
        await drop_database(admin, database)


@asynccontextmanager
async def _postgres_from_template(
    server: str, var_dir: Path, cache_dir: Path
) -> AsyncIterator[dict[str, str]]:
    """Fresh databases cloned (`CREATE DATABASE ... TEMPLATE`) from template databases on the
    server, migrated and seeded once per code version, and the var dir's seeded files (the
    JPKI CA, the card file) copied from the template built with them. Building, cloning and
    removing the templates of other code versions take one advisory lock on the server, so
    nobody is connected to a template being cloned."""
    from deploy.provision import migrate_all, seed_all
    from deploy.stack import LauncherSettings, resolve_stack
    from deploy.testing import template
    from deploy.testing.databases import admin_connection, database_url, drop_database

    key = _template_key(LauncherSettings().seed_file, server=server)
    names = ("gateway", *SERVICE_NAMES)
    templates = {name: f"{PG_TEMPLATE_PREFIX}{key}_{name}" for name in names}
    files = cache_dir / f"pg-template-{key}"
    async with admin_connection(server) as admin:
        await admin.execute("SELECT pg_advisory_lock($1)", PG_TEMPLATE_LOCK)
        try:
            rows = await admin.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{PG_TEMPLATE_PREFIX}%"
            )
            present = {row["datname"] for row in rows}
            if not files.is_dir() or not set(templates.values()) <= present:
                for stale in present:  # other code versions', and a partial build of this one
                    await drop_database(admin, stale)
                built = await asyncio.to_thread(template.build_dir, cache_dir)
                for database in templates.values():
                    await admin.execute(f'CREATE DATABASE "{database}"')
                urls = {name: database_url(server, db) for name, db in templates.items()}
                stack = resolve_stack(var_dir=built, overrides=_overrides(built, _ports(), urls))
                await migrate_all(stack)
                await seed_all(stack)
                await asyncio.to_thread(template.publish, built, files)
            clones = dict(
                zip(
                    templates,
                    await asyncio.gather(  # each on its own connection: they overlap
                        *(_clone(server, db, f"cityhall_{n}") for n, db in templates.items())
                    ),
                    strict=True,
                )
            )
        finally:
            await admin.execute("SELECT pg_advisory_unlock($1)", PG_TEMPLATE_LOCK)
    try:
        await asyncio.to_thread(template.copy_template, files, var_dir)
        yield {name: database_url(server, database) for name, database in clones.items()}
    finally:
        await asyncio.gather(*(_drop(server, database) for database in clones.values()))


@asynccontextmanager
async def _postgres_databases(server: str) -> AsyncIterator[dict[str, str]]:
    from deploy.testing.databases import postgres_database

    async with AsyncExitStack() as stack:
        urls = {
            name: await stack.enter_async_context(
                postgres_database(server, prefix=f"cityhall_{name}")
            )
            for name in ("gateway", *SERVICE_NAMES)
        }
        yield urls


async def _databases(exits: AsyncExitStack, var_dir: Path, options: SuiteOptions) -> dict[str, str]:
    """Each app's database URL: SQLite files in the var dir, or throw-away PostgreSQL
    databases dropped when `exits` closes (cloned from migrated and seeded templates in
    process; empty for `cityhall up`, which migrates and seeds them itself)."""
    if options.database_server is None:
        return _sqlite_urls(var_dir)
    if options.mode == "in-process" and options.cache_dir is not None:
        return await exits.enter_async_context(
            _postgres_from_template(options.database_server, var_dir, options.cache_dir)
        )
    return await exits.enter_async_context(_postgres_databases(options.database_server))


async def _registered(apps: Mapping[str, Any]) -> None:
    """Until the fee-charging services have registered their webhook at payments_mock, so the
    first payment of a test is heard of at once."""
    from services.kit.payments.integration import payments_runtime

    for name in FEE_SERVICES:
        await payments_runtime(apps[name].state.runtime).registrar.registered.wait()


async def _listening(
    servers: Mapping[str, Server],
    tasks: dict[str, asyncio.Task[None]],
    names: Sequence[str],
    sockets: Mapping[str, socket.socket],
) -> None:
    """Starts the servers `names` on their sockets and returns once every one listens."""
    from deploy.serve import serve_until_stopped

    for name in names:
        serving = serve_until_stopped(servers[name], name, [sockets[name]])
        tasks[name] = asyncio.create_task(serving)
    listening: asyncio.Future[list[bool]] = asyncio.gather(
        *(servers[n].listening.wait() for n in names)
    )
    started: list[asyncio.Future[Any]] = [tasks[n] for n in names]
    done, _ = await asyncio.wait([listening, *started], return_when=asyncio.FIRST_COMPLETED)
    if listening not in done:
        listening.cancel()
        failed = next(n for n in names if tasks[n] in done)
        raise RuntimeError(f"the suite could not start: {failed} stopped ({tasks[failed]})")


@asynccontextmanager
async def in_process(var_dir: Path, options: SuiteOptions) -> AsyncIterator[Suite]:
    """Runs on the plugin's loop thread for the whole session."""
    from deploy.launcher import stop_servers
    from deploy.mailsink import MailSink, create_mailbox_app
    from deploy.provision import migrate_all, seed_all
    from deploy.serve import Server, server_config
    from deploy.stack import GATEWAY, MAILSINK, SERVICES, resolve_stack
    from gateway.app import create_app as gateway_app
    from services.kit.app import RuntimeOptions

    async with AsyncExitStack() as exits:
        databases = await _databases(exits, var_dir, options)
        sockets = _sockets()
        for sock in sockets.values():
            exits.callback(sock.close)
        ports = {name: sock.getsockname()[1] for name, sock in sockets.items()}
        stack = resolve_stack(var_dir=var_dir, overrides=_overrides(var_dir, ports, databases))
        if options.cache_dir is not None:
            if options.database_server is None:
                await _provision_template(var_dir, options.cache_dir)
            # else: the databases and the var dir's files came from their templates
        else:
            await migrate_all(stack)
            await seed_all(stack)

        apps = {
            name: kind.create_app()(stack.services[name], RuntimeOptions())
            for name, kind in SERVICES.items()
        }
        gateway = gateway_app(stack.gateway, upstream_apps=apps)
        launcher = stack.launcher
        sink = MailSink(launcher.host, launcher.smtp_port, capacity=launcher.mailbox_capacity)
        await sink.serve(sockets["smtp"])
        exits.push_async_callback(sink.close)
        servers: dict[str, Server] = {
            name: Server(server_config(app, stack.app(name).host, stack.app(name).port))
            for name, app in apps.items()
        }
        servers[GATEWAY] = Server(
            server_config(gateway, stack.gateway.host, stack.gateway.port, front_door=True)
        )
        mailbox = stack.app(MAILSINK)
        servers[MAILSINK] = Server(
            server_config(create_mailbox_app(sink), mailbox.host, mailbox.port, lifespan="off")
        )
        tasks: dict[str, asyncio.Task[None]] = {}
        exits.push_async_callback(
            stop_servers, servers, tasks, grace=launcher.stop_timeout_seconds, out=sys.stderr
        )
        # The gateway and the mailbox first: each service asks the gateway for a token as
        # it starts (revocations, webhook registration) and would otherwise back off.
        listens_on = {**sockets, MAILSINK: sockets["mailbox"]}
        await _listening(servers, tasks, (GATEWAY, MAILSINK), listens_on)
        await _listening(servers, tasks, SERVICE_NAMES, listens_on)
        await asyncio.wait_for(_registered(apps), READY_WITHIN_SECONDS)
        yield Suite(
            mode="in-process",
            gateway_url=stack.gateway_url,
            mailbox_url=mailbox.url,
            smtp_port=launcher.smtp_port,
            service_urls={name: stack.app(name).url for name in SERVICE_NAMES},
            var_dir=var_dir,
            demo_client_secret=_demo_client_secret(stack.gateway),
        )


def _process_env(
    var_dir: Path, ports: Mapping[str, int], databases: Mapping[str, str]
) -> dict[str, str]:
    from deploy.stack import SERVICES

    env = {
        **os.environ,
        "GATEWAY_PORT": str(ports["gateway"]),
        "CITYHALL_SMTP_PORT": str(ports["smtp"]),
        "CITYHALL_MAILBOX_PORT": str(ports["mailbox"]),
        "CITYHALL_STARTUP_TIMEOUT_SECONDS": str(READY_WITHIN_SECONDS),
        "PYTHONUNBUFFERED": "1",
    }
    for name, kind in SERVICES.items():
        env[f"{kind.env_prefix}PORT"] = str(ports[name])
    for name, url in databases.items():
        prefix = "GATEWAY_" if name == "gateway" else SERVICES[name].env_prefix
        env[f"{prefix}DATABASE_URL"] = url
    for name, value in _gateway_defaults().items():
        if name == "rate_limits":
            env["GATEWAY_RATE_LIMITS"] = '{"enabled": false}'
        else:
            env[f"GATEWAY_{name.upper()}"] = str(value)
    return env


async def _wait_ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until the gateway's /readyz (which asks every service) answers 200; another process
    has no event to wait on, so this asks every 0.2 s."""
    import httpx

    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_WITHIN_SECONDS
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        while loop.time() < deadline:
            if process.returncode is not None:
                output = await asyncio.to_thread(log.read_text)
                raise RuntimeError(f"cityhall up exited with {process.returncode}:\n{output}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.2)
    output = await asyncio.to_thread(log.read_text)
    raise RuntimeError(f"cityhall up was not ready in {READY_WITHIN_SECONDS:.0f} s:\n{output}")


@asynccontextmanager
async def as_processes(var_dir: Path, options: SuiteOptions) -> AsyncIterator[Suite]:
    from gateway.settings import GatewaySettings

    async with AsyncExitStack() as exits:
        databases = await _databases(exits, var_dir, options)
        ports = _ports()
        log = var_dir.parent / f"{var_dir.name}-cityhall-up.log"
        env = _process_env(var_dir, ports, databases)
        process = await launch_up(var_dir, env, log)
        exits.push_async_callback(_stop_process, process)
        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        await _wait_ready(gateway_url, process, log)
        yield Suite(
            mode="processes",
            gateway_url=gateway_url,
            mailbox_url=f"http://127.0.0.1:{ports['mailbox']}",
            smtp_port=ports["smtp"],
            service_urls={n: f"http://127.0.0.1:{ports[n]}" for n in SERVICE_NAMES},
            var_dir=var_dir,
            demo_client_secret=_demo_client_secret(GatewaySettings()),
            extras={"log": log},
        )


async def launch_up(
    var_dir: Path, env: Mapping[str, str], log: Path, extra: Sequence[str] = ()
) -> asyncio.subprocess.Process:
    """`python -m deploy.cli up --var-dir VAR_DIR` in a process group of its own (so killpg
    reaches every child), its output in `log`. It watches this process (`CITYHALL_PARENT_PID`)
    and stops the suite when this one is gone, even when killed with SIGKILL."""
    from deploy.serve import PARENT_ENV

    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "deploy.cli",
            "up",
            "--var-dir",
            str(var_dir),
            *extra,
            env={**env, PARENT_ENV: str(os.getpid())},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )


async def _stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), STOP_WITHIN_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    with contextlib.suppress(ProcessLookupError):  # children left by a launcher that died
        os.killpg(process.pid, signal.SIGKILL)


def start(var_dir: Path, options: SuiteOptions) -> contextlib.AbstractAsyncContextManager[Suite]:
    return (as_processes if options.mode == "processes" else in_process)(var_dir, options)
