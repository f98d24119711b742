"""Throw-away databases: a SQLite file per test, and a PostgreSQL database per test when
`CITYHALL_TEST_POSTGRES_URL` names a server (e.g. postgresql+asyncpg://postgres@127.0.0.1/postgres)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from deploy.testing.databases import postgres_database as throw_away_database

POSTGRES_ENV = "CITYHALL_TEST_POSTGRES_URL"


def postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if postgres_server_url() else ["sqlite"]


@asynccontextmanager
async def postgres_database(
    server: str | None = None, *, prefix: str = "cityhall_test"
) -> AsyncIterator[str]:
    """A throw-away database on `server` (default: the one `CITYHALL_TEST_POSTGRES_URL`
    names), dropped afterwards with its connections; yields its SQLAlchemy URL."""
    server = server or postgres_server_url()
    if server is None:
        raise RuntimeError(f"{POSTGRES_ENV} is not set")
    async with throw_away_database(server, prefix=prefix) as url:
        yield url


@asynccontextmanager
async def database_url(
    backend: str, tmp_path: Path, *, name: str = "test", prefix: str = "cityhall_test"
) -> AsyncIterator[str]:
    """One database on `backend`: a SQLite file `<name>.db` under `tmp_path`, or a
    throw-away PostgreSQL database named from `prefix`."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / name}.db"
        return
    async with postgres_database(prefix=prefix) as url:
        yield url
