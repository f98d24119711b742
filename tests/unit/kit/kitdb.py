"""A database holding just the kit's tables, migrated through the real kit Alembic history."""

from __future__ import annotations

from pathlib import Path

from services.kit.db import Database
from services.kit.migrate import upgrade

EMPTY_MIGRATIONS = Path(__file__).parent / "empty_migrations"


async def kit_database(url: str) -> Database:
    db = Database(url)
    await upgrade(db.engine, EMPTY_MIGRATIONS)
    return db
