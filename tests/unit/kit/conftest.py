"""Kit fixtures: a database (SQLite file, and PostgreSQL when configured) holding only the kit's
tables, migrated through the real kit Alembic history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

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


class StoppedClock(Clock):
    """Simulated time that moves only when the test moves it: a margin such as "one second
    before it is due" is then not eaten by a slow machine's real time between two calls."""

    def __init__(self) -> None:
        super().__init__()
        self._started = datetime.now(UTC)

    def now(self) -> datetime:
        return self._started + self.offset


@pytest.fixture
def stopped_clock() -> Clock:
    return StoppedClock()
