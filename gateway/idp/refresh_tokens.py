"""Rotating refresh tokens: opaque random strings, stored only as SHA-256.

Each login starts a family; every use marks the token used and issues the next of the same
family. Presenting a used or revoked token again means it leaked: the whole family is revoked,
so neither the thief nor the owner can continue that session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.idp.tables import RefreshToken
from services.kit.ids import new_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Rotation:
    outcome: Literal["rotated", "unknown", "expired", "reused"]
    previous: RefreshToken | None = None


async def issue(
    session: AsyncSession,
    *,
    account_id: str,
    acr: str,
    now: datetime,
    ttl: timedelta,
    family_id: str | None = None,
) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=token_hash(token),
            family_id=family_id or new_id("rtf"),
            account_id=account_id,
            acr=acr,
            issued_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    conn = await session.connection()
    await conn.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id)
        .where(col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def revoke_account(session: AsyncSession, account_id: str, now: datetime) -> None:
    conn = await session.connection()
    await conn.execute(
        update(RefreshToken)
        .where(col(RefreshToken.account_id) == account_id)
        .where(col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def find(session: AsyncSession, token: str) -> RefreshToken | None:
    return await session.get(RefreshToken, token_hash(token))


async def consume(session: AsyncSession, token: str, now: datetime) -> Rotation:
    """Mark `token` used if it is current; on reuse, revoke its family. The caller commits
    (the family revocation must be committed even though the request then fails)."""
    record = await find(session, token)
    if record is None:
        return Rotation("unknown")
    conn = await session.connection()
    claimed = await conn.execute(
        update(RefreshToken)
        .where(col(RefreshToken.token_hash) == record.token_hash)
        .where(col(RefreshToken.used_at).is_(None))
        .where(col(RefreshToken.revoked_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        await revoke_family(session, record.family_id, now)
        return Rotation("reused", record)
    if record.expires_at <= now:
        return Rotation("expired", record)
    return Rotation("rotated", record)
