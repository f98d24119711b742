"""Each service's Alembic history must build exactly the tables its SQLModel models declare:
a column added to a model without a migration (or the reverse) fails here, not in production."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from services.kit.migrate import upgrade
from tests.support.services import SERVICES


def _service_metadata(name: str) -> MetaData:
    """Only this service's tables (SQLModel keeps every imported model in one registry)."""
    importlib.import_module(f"services.{name}.models")
    package = f"services.{name}."
    metadata = MetaData()
    for mapper in SQLModel._sa_registry.mappers:
        table = mapper.local_table
        if mapper.class_.__module__.startswith(package) and isinstance(table, Table):
            table.to_metadata(metadata)
    assert metadata.tables, f"no tables found for {name}"
    return metadata


def _ignored(diff: Any) -> bool:
    # SQLite reports no server-side details that models omit; only structure matters here.
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
    return kind in {"modify_nullable", "modify_default", "modify_comment"}


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_build_the_models(service: str, db_url: str) -> None:
    migrations = importlib.import_module(f"services.{service}.app").MIGRATIONS
    engine = create_async_engine(db_url)
    try:
        await upgrade(engine, migrations)
        metadata = _service_metadata(service)

        def diff(connection: Any) -> list[Any]:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _parent: (
                        kind != "table" or name in metadata.tables
                    ),
                },
            )
            return [d for d in compare_metadata(context, metadata) if not _ignored(d)]

        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == [], f"{service}: migrations and models differ: {differences}"
