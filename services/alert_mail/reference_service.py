"""Reference lists a sign-up form needs (categories and districts), in the city's order."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.models import Category, District
from services.kit.pagination import keyset_page


async def list_categories(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[Category], str | None]:
    key = (col(Category.position), col(Category.code))
    return await keyset_page(session, select(Category), key, limit=limit, cursor=cursor)


async def list_districts(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[District], str | None]:
    key = (col(District.position), col(District.code))
    return await keyset_page(session, select(District), key, limit=limit, cursor=cursor)
