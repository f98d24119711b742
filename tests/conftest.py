"""Fixtures shared by every test: databases (SQLite always, PostgreSQL when configured) and
real signed tokens."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import POSTGRES_ENV, backends, database_url, postgres_server_url
from tests.support.tokens import TokenFactory


@pytest.fixture(params=backends())
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: SQLite, and PostgreSQL too when configured."""
    async with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CITYHALL_REQUIRE_POSTGRES") == "1" and not postgres_server_url():
        raise pytest.UsageError(f"CITYHALL_REQUIRE_POSTGRES=1 but {POSTGRES_ENV} is not set")


def pytest_report_header(config: pytest.Config) -> str:
    if postgres_server_url():
        return f"databases: SQLite and PostgreSQL ({POSTGRES_ENV} is set)"
    return f"databases: SQLite only; PostgreSQL tests were NOT run (set {POSTGRES_ENV})"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not postgres_server_url():
        terminalreporter.write_line(
            f"PostgreSQL tests were not run: set {POSTGRES_ENV} to run the suite against it too.",
            yellow=True,
        )
