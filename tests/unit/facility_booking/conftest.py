from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.facility_booking.support import Suite, suite


@pytest.fixture
async def fb(db_url: str, tmp_path: Path) -> AsyncIterator[Suite]:
    """facility_booking behind the gateway, seeded with the demo city's facilities."""
    async with suite(db_url, tmp_path) as running:
        yield running
