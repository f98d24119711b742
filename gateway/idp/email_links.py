"""Records of mailed かんたん login links (acr=email): made when a link is mailed, claimed
once when it is redeemed. The link itself is a signed token (gateway.idp.links) naming the
record's `jti`, so the database row is what makes it single-use."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.idp.tables import EmailLoginLink


async def record(
    session: AsyncSession, *, jti: str, account_id: str, now: datetime, ttl: timedelta
) -> None:
    session.add(EmailLoginLink(jti=jti, account_id=account_id, issued_at=now, expires_at=now + ttl))


async def issued_since(session: AsyncSession, account_id: str, since: datetime) -> int:
    result = await session.exec(
        select(func.count())
        .select_from(EmailLoginLink)
        .where(col(EmailLoginLink.account_id) == account_id)
        .where(col(EmailLoginLink.issued_at) > since)
    )
    return int(result.one())


async def claim(session: AsyncSession, *, jti: str, account_id: str, now: datetime) -> bool:
    """Marks the link used; False when it is unknown, someone else's, expired or used."""
    conn = await session.connection()
    result = await conn.execute(
        update(EmailLoginLink)
        .where(col(EmailLoginLink.jti) == jti)
        .where(col(EmailLoginLink.account_id) == account_id)
        .where(col(EmailLoginLink.used_at).is_(None))
        .where(col(EmailLoginLink.expires_at) > now)
        .values(used_at=now)
    )
    return result.rowcount == 1


async def purge(session: AsyncSession, *, expired_before: datetime) -> None:
    conn = await session.connection()
    await conn.execute(
        delete(EmailLoginLink).where(col(EmailLoginLink.expires_at) < expired_before)
    )
