"""The kit's Alembic history builds exactly the kit's tables (kit_webhook_subscriptions is
new here): a column added to `services.kit.tables` without a migration fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table
from sqlmodel import SQLModel

import services.kit.tables
from services.kit.db import Database
from tests.unit.kit.kitdb import kit_database


def _kit_metadata() -> MetaData:
    metadata = MetaData()
    for mapper in SQLModel._sa_registry.mappers:
        table = mapper.local_table
        if mapper.class_.__module__ == services.kit.tables.__name__ and isinstance(table, Table):
            table.to_metadata(metadata)
    return metadata


async def test_kit_migrations_build_the_kit_tables(db_url: str) -> None:
    metadata = _kit_metadata()
    assert "kit_webhook_subscriptions" in metadata.tables
    db: Database = await kit_database(db_url)
    try:

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
            return [
                d
                for d in compare_metadata(context, metadata)
                if (d[0] if isinstance(d, tuple) else d[0][0])
                not in {"modify_nullable", "modify_default", "modify_comment"}
            ]

        async with db.engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await db.dispose()
    assert differences == []
