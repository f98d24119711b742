"""Demo data: alert categories and districts of the city data file (idempotent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.callups_seed import seed_staff_groups
from services.alert_mail.models import Category, District
from services.alert_mail.notifications_service import upsert_seed_templates
from services.kit.clock import Clock


async def _upsert(
    session: AsyncSession,
    model: type[SQLModel],
    items: list[Mapping[str, Any]],
    fields: tuple[str, ...],
) -> int:
    for position, item in enumerate(items):
        values = {f: item[f] for f in fields} | {"position": position}
        row = await session.get(model, item["code"])
        if row is None:
            session.add(model(code=item["code"], **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
    await session.flush()
    return len(items)


async def seed(session: AsyncSession, city: Mapping[str, Any]) -> int:
    count = await _upsert(
        session,
        Category,
        list(city.get("alert_categories", ())),
        ("name_ja", "name_en", "department"),
    )
    count += await _upsert(
        session, District, list(city.get("districts", ())), ("name_ja", "name_en")
    )
    count += await seed_staff_groups(session, list(city.get("staff_groups", ())), now=Clock().now())
    city_name = str(city.get("city", {}).get("name_ja", "デモ市"))
    city_name_en = str(city.get("city", {}).get("name_en", "Demo City"))
    count += await upsert_seed_templates(
        session, city_name, now=Clock().now(), city_name_en=city_name_en
    )
    return count
