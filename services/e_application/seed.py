"""Demo data: the procedure catalogue of the city data file. Re-seeding is idempotent; a
changed definition is published as a new version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application import procedures_service
from services.kit.clock import Clock


async def seed(session: AsyncSession, city: Mapping[str, Any]) -> int:
    """Publishes every procedure of `city["procedures"]` that is new or changed; returns how
    many the catalogue holds from the file."""
    count = await procedures_service.seed_catalogue(
        session, city.get("procedures", ()), now=Clock().now()
    )
    await session.flush()
    return count
