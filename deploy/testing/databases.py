"""Throw-away PostgreSQL databases: created for a test (or a test session) and dropped with
their connections afterwards, empty or cloned from a template database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import asyncpg


def _asyncpg_dsn(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


def database_url(server: str, database: str) -> str:
    """The SQLAlchemy (asyncpg) URL of `database` on `server`."""
    return (
        make_url(server)
        .set(drivername="postgresql+asyncpg", database=database)
        .render_as_string(hide_password=False)
    )


@asynccontextmanager
async def admin_connection(server: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the database named in `server` (`postgres` when none is)."""
    import asyncpg

    admin = await asyncpg.connect(_asyncpg_dsn(server, make_url(server).database or "postgres"))
    try:
        yield admin
    finally:
        await admin.close()


async def _admin_execute(server: str, statement: str) -> None:
    async with admin_connection(server) as admin:
        await admin.execute(statement)


def _fresh_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def clone_database(admin: asyncpg.Connection, template: str, *, prefix: str) -> str:
    """A new database copied from `template` (nobody may be connected to it); its name."""
    name = _fresh_name(prefix)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


async def drop_database(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def postgres_database(server: str, *, prefix: str = "cityhall_test") -> AsyncIterator[str]:
    """A throw-away database on `server` (a SQLAlchemy URL of any database there), dropped
    afterwards with its connections; yields its SQLAlchemy URL."""
    name = _fresh_name(prefix)
    await _admin_execute(server, f'CREATE DATABASE "{name}"')
    try:
        yield database_url(server, name)
    finally:
        await _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
