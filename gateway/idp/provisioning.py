"""Demo identities (simulation mode only): accounts with known passwords and, for staff, an
already confirmed TOTP secret, and JPKI card files linked to an account. `cityhall up` and
`cityhall seed` call these through the identity provider; production refuses them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import select

from gateway.idp import accounts
from gateway.idp.jpki import MockCA, check_certificate, write_card
from gateway.idp.jpki_client import Card
from gateway.idp.service import IdentityProvider
from gateway.idp.tables import JpkiCertificate
from gateway.settings import GatewaySettings
from services.kit.errors import AppError
from services.kit.ids import new_id


class DemoIdentitiesRefused(RuntimeError):
    """Demo identities asked for outside simulation mode (or in production)."""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    id: str
    kind: accounts.AccountKind
    email: str
    password: str
    display_name: str
    department: str | None = None
    roles: tuple[str, ...] = ()
    totp_secret: str | None = None  # base32; staff only
    card_file: str | None = None  # a JPKI card file under the demo directory, linked to it


def require_demo_mode(settings: GatewaySettings) -> None:
    if not settings.demo_identities or not settings.simulation:
        raise DemoIdentitiesRefused(
            "demo identities exist only in simulation mode (never in production)"
        )


async def upsert_account(idp: IdentityProvider, demo: DemoAccount) -> bool:
    """Creates the account, or puts it back to its demo state (password, roles, TOTP secret,
    verified address, active). True when it was created."""
    require_demo_mode(idp.ctx.settings)
    unknown = set(demo.roles) - accounts.STAFF_ROLES
    if unknown:
        raise ValueError(f"{demo.id}: unknown roles {sorted(unknown)}")
    password_hash = await idp.ctx.passwords.hash(demo.password)
    now = idp.ctx.now()
    async with idp.ctx.db.session() as session:
        account = await accounts.by_id(session, demo.id)
        created = account is None
        if account is None:
            account = accounts.new_account(
                demo.kind, display_name=demo.display_name, now=now, email=demo.email
            )
            account.id = demo.id
        account.kind = demo.kind
        account.email = demo.email
        account.display_name = demo.display_name
        account.password_hash = password_hash
        account.department = demo.department
        account.roles = sorted(demo.roles)
        account.status = "active"
        account.email_verified_at = account.email_verified_at or now
        if demo.totp_secret is not None:
            account.totp_secret = idp.ctx.box.seal(demo.totp_secret)
            account.totp_confirmed_at = account.totp_confirmed_at or now
        account.updated_at = now
        session.add(account)
    return created


def _card_file(ca: MockCA, holder: str, path: Path, now: datetime) -> Card:
    card: Card | None = Card.load(path) if path.exists() else None
    if card is not None:
        try:
            check_certificate(ca, card.certificate, now)
        except AppError:  # another CA (the var dir was reset) or expired: issue a new one
            card = None
    if card is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        write_card(ca.issue_card(holder), path)
        card = Card.load(path)
    return card


async def ensure_card(idp: IdentityProvider, demo: DemoAccount, path: Path) -> Card:
    """The account's JPKI card file at `path` (issued by the gateway's mock CA when missing or
    no longer valid), linked to the account so that logging in with it is that account."""
    require_demo_mode(idp.ctx.settings)
    ca = idp.require_ca()
    now = idp.ctx.now()
    card = await asyncio.to_thread(_card_file, ca, demo.display_name, path, now)
    identity = check_certificate(ca, card.certificate, now)
    async with idp.ctx.db.session() as session:
        linked = (
            await session.exec(
                select(JpkiCertificate)
                .where(JpkiCertificate.issuer == identity.issuer)
                .where(JpkiCertificate.serial == identity.serial)
            )
        ).first()
        if linked is None:
            session.add(
                JpkiCertificate(
                    id=new_id("jcrt"),
                    issuer=identity.issuer,
                    serial=identity.serial,
                    subject=identity.subject,
                    account_id=demo.id,
                    not_after=identity.not_after,
                    linked_at=now,
                )
            )
        elif linked.account_id != demo.id:
            linked.account_id = demo.id
            session.add(linked)
    return card
