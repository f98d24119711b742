"""Account records: lookups and the few writes the identity provider makes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.idp.tables import Account
from services.kit.ids import new_id

AccountKind = Literal["citizen", "business", "staff"]
STAFF_ROLES = frozenset(
    {"staff", "approver", "alert_publisher", "emergency_publisher", "auditor", "admin"}
)
_PREFIX: dict[str, str] = {"citizen": "cit", "business": "biz", "staff": "stf"}
_EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    if len(email) > 254 or not _EMAIL.match(email):
        return "not a valid e-mail address"
    return None


def new_account(
    kind: AccountKind,
    *,
    display_name: str,
    now: datetime,
    email: str | None = None,
    password_hash: str | None = None,
    department: str | None = None,
    roles: list[str] | None = None,
) -> Account:
    return Account(
        id=new_id(_PREFIX[kind]),
        kind=kind,
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        department=department,
        roles=sorted(set(roles or [])),
        created_at=now,
        updated_at=now,
    )


async def by_id(session: AsyncSession, account_id: str) -> Account | None:
    return await session.get(Account, account_id)


async def by_email(session: AsyncSession, email: str) -> Account | None:
    result = await session.exec(select(Account).where(Account.email == email))
    return result.first()


async def record_totp_step(session: AsyncSession, account_id: str, step: int) -> bool:
    """Claim `step` for the account; False if it (or a later one) was used already."""
    conn = await session.connection()
    result = await conn.execute(
        update(Account)
        .where(col(Account.id) == account_id)
        .where((col(Account.totp_last_step).is_(None)) | (col(Account.totp_last_step) < step))
        .values(totp_last_step=step)
    )
    return result.rowcount == 1
