"""The cityhall pytest plugin: the whole suite as fixtures for a client's integration tests.

Fixtures (the suite starts at the first test that asks for one, once per session):

- `cityhall_suite`: where it runs (`gateway_url`, `mailbox_url`, `service_urls`, `var_dir`,
  `card_path("hanako")`);
- `cityhall_login`: `client = await cityhall_login("taro")`, an `httpx.AsyncClient` on the
  gateway logged in as a demo identity (staff through password + TOTP) or as `demo-app`;
- `cityhall_http`: an anonymous `httpx.AsyncClient` on the gateway;
- `cityhall_mailbox`: `await cityhall_mailbox.wait_for(to=..., subject=...)`, `bounce(...)`;
- `cityhall_clock`: `advance(...)`, `travel_to(...)`, `now()`, `tick()`;
- `cityhall_payments`: `pay_at_store(...)`, `pay_by_payeasy(...)`, `decline_card(...)`,
  `expire(...)`, `pay_late(...)`, `cards`;
- `cityhall_webhooks`: an inbox on a real HTTP receiver: `url`, `register(client)`,
  `fail(500)`, `wait_for("payment.paid")`.

Options (command line, ini, or environment): `--cityhall-processes` / `cityhall_mode =
processes` / `CITYHALL_PYTEST_MODE=processes` runs `cityhall up` as separate processes
instead of in this one; `--cityhall-database-server URL` / `cityhall_database_server` /
`CITYHALL_PYTEST_DATABASE_SERVER` puts fresh databases on that PostgreSQL server.

This module imports only pytest and the standard library: pytest loads it in every run.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import pytest

if TYPE_CHECKING:
    import httpx

    from deploy.testing.clock import SimClock
    from deploy.testing.mailbox import Mailbox
    from deploy.testing.payments import Payments
    from deploy.testing.session import SuiteSession
    from deploy.testing.suite import Suite, SuiteOptions
    from deploy.testing.webhooks import Inbox


class Login(Protocol):
    """The `cityhall_login` fixture: a client logged in as `who`."""

    async def __call__(self, who: str, *, scopes: Sequence[str] = ()) -> httpx.AsyncClient: ...


MODE_ENV = "CITYHALL_PYTEST_MODE"
DATABASE_SERVER_ENV = "CITYHALL_PYTEST_DATABASE_SERVER"
HTTP_TIMEOUT_SECONDS = 30.0

# Async fixtures must be declared to the plugin that runs the user's async tests:
# pytest-asyncio's decorator serves both its strict and auto modes; without it, plain
# fixtures are what anyio's plugin runs.
F = TypeVar("F", bound=Callable[..., Any])


def async_fixture(function: F) -> F:
    if importlib.util.find_spec("pytest_asyncio") is not None:
        import pytest_asyncio

        declared: Any = pytest_asyncio.fixture(function)
    else:  # pragma: no cover - pytest-asyncio is in the project's dev group
        declared = pytest.fixture(function)
    return cast(F, declared)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cityhall", "the cityhall suite as fixtures")
    group.addoption(
        "--cityhall-processes",
        action="store_true",
        default=None,
        help="run the suite as separate processes (cityhall up) instead of in this one",
    )
    group.addoption(
        "--cityhall-database-server",
        default=None,
        metavar="URL",
        help="PostgreSQL server (SQLAlchemy URL) for the suite's fresh databases",
    )
    parser.addini("cityhall_mode", "in-process (default) or processes", default="")
    parser.addini("cityhall_database_server", "PostgreSQL server for the suite", default="")


def options(config: pytest.Config) -> SuiteOptions:
    from deploy.testing.suite import SuiteOptions

    processes = config.getoption("cityhall_processes")
    mode = (
        "processes"
        if processes
        else (os.environ.get(MODE_ENV) or str(config.getini("cityhall_mode")) or "in-process")
    )
    if mode not in ("in-process", "processes"):
        raise pytest.UsageError(f"cityhall mode is in-process or processes, not {mode!r}")
    server = (
        config.getoption("cityhall_database_server")
        or os.environ.get(DATABASE_SERVER_ENV)
        or str(config.getini("cityhall_database_server"))
        or None
    )
    cache = getattr(config, "cache", None)
    cache_dir = cache.mkdir("cityhall") if cache is not None else None
    return SuiteOptions(mode=mode, database_server=server, cache_dir=cache_dir)  # type: ignore[arg-type]


_STARTED: list[SuiteSession] = []


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector off while the suite is imported and started, then everything
    that survived frozen (`gc.freeze`): the start allocates some 300 000 long-lived objects
    (routes, models, tables), and the full collections it would trigger, each walking all of
    them, cost a fifth of its CPU; frozen, later collections in the tests skip them too.
    One full collection first, so no garbage is frozen with them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        if enabled:
            gc.enable()


@pytest.fixture(scope="session")
def cityhall_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SuiteSession]:
    """The session's running suite, its tokens and its webhook receiver."""
    began = time.monotonic()  # "suite ready in" counts the imports too
    settings = options(request.config)
    from deploy.bytecode import byte_compile

    byte_compile(marker_dir=settings.cache_dir)
    var_dir = tmp_path_factory.mktemp("cityhall") / "var"
    with _collector_paused():
        from deploy.testing.session import SuiteSession

        session = SuiteSession(var_dir, settings)
    session.suite.ready_seconds = time.monotonic() - began  # the collection above included
    _STARTED.append(session)
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def cityhall_suite(cityhall_session: SuiteSession) -> Suite:
    """Where the running suite is: URLs, var dir, the demo card file."""
    return cityhall_session.suite


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for session in _STARTED:
        suite = session.suite
        terminalreporter.write_line(
            f"cityhall: suite ready in {suite.ready_seconds:.1f} s ({suite.mode}, "
            f"gateway {suite.gateway_url}, var dir {suite.var_dir})"
        )


@async_fixture
async def cityhall_http(cityhall_suite: Suite) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous client on the gateway."""
    import httpx

    async with httpx.AsyncClient(
        base_url=cityhall_suite.gateway_url, timeout=HTTP_TIMEOUT_SECONDS, trust_env=False
    ) as client:
        yield client


@async_fixture
async def cityhall_login(
    cityhall_session: SuiteSession, cityhall_http: httpx.AsyncClient
) -> AsyncIterator[Login]:
    """`await cityhall_login("bosai")`: a client on the gateway logged in as a demo identity
    (`cityhall accounts` lists them), or as the demo client `demo-app` (`scopes=` to narrow
    its token). Closed when the test ends."""
    import httpx

    from deploy.testing.logins import DemoAuth

    clients: list[httpx.AsyncClient] = []

    async def login(who: str, *, scopes: Sequence[str] = ()) -> httpx.AsyncClient:
        auth = DemoAuth(cityhall_session.logins, cityhall_http, who, scopes)
        await cityhall_session.logins.token(cityhall_http, who, scopes)  # fail here, not later
        client = httpx.AsyncClient(
            base_url=cityhall_session.suite.gateway_url,
            auth=auth,
            timeout=HTTP_TIMEOUT_SECONDS,
            trust_env=False,
        )
        clients.append(client)
        return client

    try:
        yield login
    finally:
        for client in clients:
            await client.aclose()


@async_fixture
async def cityhall_mailbox(
    cityhall_suite: Suite, cityhall_http: httpx.AsyncClient
) -> AsyncIterator[Mailbox]:
    """The mail sent since this test began; bounce rules last until it ends."""
    from deploy.testing.mailbox import Mailbox

    mailbox = Mailbox(cityhall_http, cityhall_suite.mailbox_url)
    await mailbox.begin()
    try:
        yield mailbox
    finally:
        await mailbox.end()


@async_fixture
async def cityhall_clock(cityhall_login: Login) -> SimClock:
    """The suite's simulation clock (moved as the demo admin)."""
    from deploy.testing.clock import SimClock

    return SimClock(await cityhall_login("admin"))


@async_fixture
async def cityhall_payments(cityhall_login: Login) -> Payments:
    """Payer outcomes at payments_mock (as the demo client, scope payments:simulate)."""
    from deploy.testing.payments import Payments

    return Payments(await cityhall_login("demo-app"))


@async_fixture
async def cityhall_webhooks(
    cityhall_session: SuiteSession, cityhall_login: Login
) -> AsyncIterator[Inbox]:
    """An inbox on the session's webhook receiver; registered endpoints are deleted when the
    test ends."""
    receiver = cityhall_session.receiver()
    inbox = receiver.open()
    try:
        yield inbox
    finally:
        receiver.close(inbox)
        if inbox.endpoint_id is not None:
            manager = await cityhall_login("demo-app")
            await manager.delete(f"/v1/webhook-endpoints/{inbox.endpoint_id}")
