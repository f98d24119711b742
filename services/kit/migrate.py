"""Alembic, driven from code: the kit's history first, then the service's own.

Each history keeps its own version table, so the kit tables evolve once for every service.
Alembic is imported when a migration runs, not with the apps that may never run one (the
test plugin starts on migrated copies; production migrates as a job).
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.kit.db import IMMEDIATE

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from sqlalchemy import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

KIT_MIGRATIONS = Path(__file__).parent / "migrations"
KIT_VERSION_TABLE = "kit_alembic_version"


def _config(script_location: Path, version_table: str, connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = version_table
    return config


def run_env(context: EnvironmentContext) -> None:
    """The body of every `env.py`: migrate on the connection handed over by `upgrade`."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `cityhall migrate` or services.kit.migrate.upgrade")
    context.configure(
        connection=connection,
        version_table=context.config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade_all(connection: Connection, histories: list[tuple[Path, str]]) -> None:
    from alembic import command

    for script_location, version_table in histories:
        command.upgrade(_config(script_location, version_table, connection), "heads")


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _migration_lock() -> asyncio.Lock:
    """Alembic keeps the running migration in module globals: one upgrade at a time per loop
    (several service lifespans may start together in one process)."""
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


async def upgrade(
    engine: AsyncEngine,
    service_migrations: Path,
    *,
    include_kit: bool = True,
    version_table: str = "alembic_version",
) -> None:
    """Bring the kit tables (unless `include_kit=False`, as for the gateway, which has no
    outbox) and the app's own tables to head, in one transaction."""
    histories = [(service_migrations, version_table)]
    if include_kit:
        histories.insert(0, (KIT_MIGRATIONS, KIT_VERSION_TABLE))
    options: dict[str, Any] = {}
    if engine.dialect.name == "sqlite":
        options.update(IMMEDIATE)
    async with _migration_lock(), engine.connect() as conn:
        conn = await conn.execution_options(**options)
        async with conn.begin():
            await conn.run_sync(_upgrade_all, histories)
