"""Throw-away PostgreSQL databases: created for a test (or a test session) and dropped with
their connections afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url


def _asyncpg_dsn(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin_execute(server: str, statement: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(_asyncpg_dsn(server, make_url(server).database or "postgres"))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@asynccontextmanager
async def postgres_database(server: str, *, prefix: str = "cityhall_test") -> AsyncIterator[str]:
    """A throw-away database on `server` (a SQLAlchemy URL of any database there), dropped
    afterwards with its connections; yields its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin_execute(server, f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(server)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        await _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
