"""The revocation list in the gateway's database (`idp_revocations`): entries written in the
unit of work of the change that revokes (logout, disabling, refresh-token reuse, a revoked
card), read by every gateway replica's `RevocationFeed` and served to the services at
`GET /internal/revocations`.

Times are wall-clock Unix seconds, as the tokens' `iat` and `exp` are (gateway.tokens)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.idp.tables import RevocationRecord
from services.kit.db import Database
from services.kit.revocation import OVERLAP_SECONDS, Revocation, RevocationKind, Source

MAX_ENTRIES_PER_READ = 10_000


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def add(
    session: AsyncSession,
    kind: RevocationKind,
    value: str,
    *,
    expires_at: float,
    issued_before: float | None = None,
) -> None:
    session.add(
        RevocationRecord(
            kind=kind.value,
            value=value,
            issued_before=issued_before,
            expires_at=_utc(expires_at),
            recorded_at=_utc(time.time()),
        )
    )


async def entries_after(session: AsyncSession, seq: int) -> list[Revocation]:
    """The live entries numbered after `seq`, and those recorded in the last OVERLAP_SECONDS
    (a transaction may commit a lower `seq` after a higher one was read)."""
    now = time.time()
    result = await session.exec(
        select(RevocationRecord)
        .where(
            or_(
                col(RevocationRecord.seq) > seq,
                col(RevocationRecord.recorded_at) > _utc(now - OVERLAP_SECONDS),
            )
        )
        .where(col(RevocationRecord.expires_at) > _utc(now))
        .order_by(col(RevocationRecord.seq))
        .limit(MAX_ENTRIES_PER_READ)
    )
    return [
        Revocation(
            seq=row.seq or 0,
            kind=RevocationKind(row.kind),
            value=row.value,
            expires_at=row.expires_at.timestamp(),
            issued_before=row.issued_before,
        )
        for row in result.all()
    ]


async def purge(session: AsyncSession) -> None:
    conn = await session.connection()
    await conn.execute(
        delete(RevocationRecord).where(col(RevocationRecord.expires_at) < _utc(time.time()))
    )


def database_source(db: Database) -> Source:
    async def read(seq: int) -> list[Revocation]:
        async with db.session(write=False) as session:
            return await entries_after(session, seq)

    return read
