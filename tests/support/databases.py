"""Throw-away databases: a SQLite file per test, and a PostgreSQL database per test when
`CITYHALL_TEST_POSTGRES_URL` names a server (e.g. postgresql+asyncpg://postgres@127.0.0.1/postgres)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

POSTGRES_ENV = "CITYHALL_TEST_POSTGRES_URL"


def postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if postgres_server_url() else ["sqlite"]


def _asyncpg_dsn(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


@asynccontextmanager
async def postgres_database(
    server: str | None = None, *, prefix: str = "cityhall_test"
) -> AsyncIterator[str]:
    """A throw-away database on `server` (default: the one `CITYHALL_TEST_POSTGRES_URL`
    names), dropped afterwards with its connections; yields its SQLAlchemy URL."""
    server = server or postgres_server_url()
    if server is None:
        raise RuntimeError(f"{POSTGRES_ENV} is not set")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server, make_url(server).database or "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield (
            make_url(server)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(server, make_url(server).database or "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


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
