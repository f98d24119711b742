"""The status lookup without an account (e-Gov's 到達番号 + 問合せ番号): the reference and the
access code tell the status and nothing else; wrong codes lock the reference for a while."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.domain import lookup_limit, references
from services.e_application.models import Application
from services.kit.errors import TooManyRequests


async def lookup_status(
    session: AsyncSession,
    reference: str,
    access_code: str,
    *,
    client: str,
    attempts: lookup_limit.ClientAttempts,
    now: datetime,
) -> Application | None:
    """Reference + access code → the application, or None (unknown reference or wrong code:
    the caller answers 404 and lets the transaction commit, so a wrong code counts against
    the reference, in the database, for every replica). Every attempt counts against the
    client."""
    wait = attempts.allow(client, now)
    if wait is not None:
        raise TooManyRequests(wait, "too many status lookups; try again later")
    application = (
        await session.exec(
            select(Application).where(col(Application.reference) == reference).with_for_update()
        )
    ).one_or_none()
    if application is None:
        return None
    locked = lookup_limit.reference_locked(
        application.lookup_failures, application.lookup_window_start, now
    )
    if locked is not None:
        raise TooManyRequests(locked, "too many wrong access codes for this reference")
    if references.code_matches(access_code, application.access_code_hash):
        return application
    start = application.lookup_window_start
    if start is None or now - start >= lookup_limit.WINDOW:
        application.lookup_window_start = now
        application.lookup_failures = 1
    else:
        application.lookup_failures += 1
    await session.flush()
    return None
