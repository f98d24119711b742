"""Demo data: the procedure catalogue of the city data file (idempotent upsert by code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.models import Procedure

_FIELDS = (
    "name_ja",
    "name_en",
    "department",
    "category_ja",
    "assurance",
    "fee_yen",
    "standard_processing_days",
)


async def seed(session: AsyncSession, city: Mapping[str, Any]) -> int:
    """Inserts or updates every procedure of `city["procedures"]`; returns how many."""
    count = 0
    for item in city.get("procedures", ()):
        procedure = await session.get(Procedure, item["code"])
        if procedure is None:
            procedure = Procedure(code=item["code"], **{f: item.get(f) for f in _FIELDS})
            session.add(procedure)
        else:
            for field in _FIELDS:
                setattr(procedure, field, item.get(field))
        count += 1
    await session.flush()
    return count
