"""The gateway's Alembic history must build exactly the tables its SQLModel classes declare
(audit log, identity provider): a column added without a migration fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import gateway.idp.tables
import gateway.tables  # registers the audit tables
from gateway.app import MIGRATIONS
from services.kit.migrate import upgrade


def _gateway_metadata() -> MetaData:
    assert gateway.idp.tables.EmailLoginLink.__tablename__ == "idp_email_login_links"
    metadata = MetaData()
    for mapper in SQLModel._sa_registry.mappers:
        table = mapper.local_table
        if mapper.class_.__module__.startswith("gateway.") and isinstance(table, Table):
            table.to_metadata(metadata)
    return metadata


def _ignored(diff: Any) -> bool:
    # SQLite reports no server-side details that models omit; only structure matters here.
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
    return kind in {"modify_nullable", "modify_default", "modify_comment"}


async def test_migrations_build_the_gateway_tables(db_url: str) -> None:
    metadata = _gateway_metadata()
    assert {"idp_accounts", "idp_email_login_links", "gateway_audit_log"} <= set(metadata.tables)
    engine = create_async_engine(db_url)
    try:
        await upgrade(engine, MIGRATIONS, include_kit=False)

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
    assert differences == []
