"""payments_mock keeps no demo data: payments are created by the other services and clients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession


async def seed(session: AsyncSession, city: Mapping[str, Any]) -> int:
    return 0
