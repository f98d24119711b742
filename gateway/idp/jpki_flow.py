"""Login with the (mock) My Number card (acr=jpki): a one-use challenge, the card's signature
over it, the certificate checked against the mock CA and its revocation list; the card is
linked to an account on first use. Administrators revoke cards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from gateway.idp import accounts
from gateway.idp.context import IdpContext, TokenSet
from gateway.idp.errors import (
    AccountDisabled,
    InvalidGrant,
    JpkiCertificateRevoked,
    JpkiNonceInvalid,
)
from gateway.idp.jpki import check_certificate, check_signature, new_nonce
from gateway.idp.tables import JpkiCertificate, JpkiNonce, JpkiRevocation
from services.kit.auth import Principal
from services.kit.ids import new_id


class JpkiFlow:
    def __init__(self, ctx: IdpContext) -> None:
        self.ctx = ctx

    async def challenge(self) -> JpkiNonce:
        ctx = self.ctx
        nonce = JpkiNonce(
            nonce=new_nonce(),
            expires_at=ctx.now() + timedelta(seconds=ctx.settings.jpki_nonce_ttl_seconds),
        )
        async with ctx.db.session() as session:
            session.add(nonce)
        return nonce

    async def login(
        self, *, certificate: Any, nonce: str, signature: bytes, link_to: Principal | None
    ) -> TokenSet:
        ctx = self.ctx
        now = ctx.now()
        identity = check_certificate(ctx.require_ca(), certificate, now)
        async with ctx.db.session() as session:
            # The nonce is spent by any attempt, good or bad: one signature try per challenge.
            conn = await session.connection()
            claimed = await conn.execute(
                update(JpkiNonce)
                .where(col(JpkiNonce.nonce) == nonce)
                .where(col(JpkiNonce.used_at).is_(None))
                .where(col(JpkiNonce.expires_at) > now)
                .values(used_at=now)
            )
        if claimed.rowcount != 1:
            raise JpkiNonceInvalid("the challenge is unknown, expired or already used")
        check_signature(certificate, nonce, signature)
        async with ctx.db.session() as session:
            revoked = await session.get(JpkiRevocation, identity.serial)
            if revoked is not None:
                raise JpkiCertificateRevoked(
                    f"the certificate {identity.serial} was revoked: {revoked.reason}",
                    serial=identity.serial,
                )
            linked = (
                await session.exec(
                    select(JpkiCertificate)
                    .where(JpkiCertificate.issuer == identity.issuer)
                    .where(JpkiCertificate.serial == identity.serial)
                )
            ).first()
            if linked is not None:
                account = await accounts.by_id(session, linked.account_id)
            elif link_to is not None and link_to.kind in ("citizen", "business"):
                account = await accounts.by_id(session, link_to.sub)
            else:
                account = accounts.new_account(
                    "citizen", display_name=identity.common_name or identity.serial, now=now
                )
                session.add(account)
            if account is None:
                raise InvalidGrant("the account linked to this card no longer exists")
            if linked is None:
                session.add(
                    JpkiCertificate(
                        id=new_id("jcrt"),
                        issuer=identity.issuer,
                        serial=identity.serial,
                        subject=identity.subject,
                        account_id=account.id,
                        not_after=identity.not_after,
                        linked_at=now,
                    )
                )
            tokens = (
                await ctx.token_set(session, account, "jpki")
                if account.status == "active"
                else None
            )
        if tokens is None:
            raise AccountDisabled("this account is disabled")
        return tokens

    async def revoke_card(self, serial: str, reason: str, by: str) -> JpkiRevocation:
        serial = serial.strip().lower()
        async with self.ctx.db.session() as session:
            existing = await session.get(JpkiRevocation, serial)
            if existing is not None:
                return existing
            record = JpkiRevocation(
                serial=serial, reason=reason, revoked_by=by, revoked_at=self.ctx.now()
            )
            session.add(record)
        return record

    async def revocations(self) -> list[JpkiRevocation]:
        async with self.ctx.db.session(write=False) as session:
            result = await session.exec(
                select(JpkiRevocation).order_by(col(JpkiRevocation.revoked_at))
            )
            return list(result.all())
