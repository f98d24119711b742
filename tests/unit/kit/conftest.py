"""Kit fixtures: a database (SQLite file, and PostgreSQL when configured) holding only the kit's
tables, migrated through the real kit Alembic history."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.kit.clock import Clock
from services.kit.db import Database
from tests.unit.kit.kitdb import kit_database


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await kit_database(db_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def clock() -> Clock:
    """A simulated clock: tests move it forward instead of sleeping."""
    return Clock()
