"""Login with the (mock) My Number card (acr=jpki): a one-use challenge, the card's signature
over it, the certificate checked against the mock CA and its revocation list; the card is
linked to an account on first use. Administrators revoke cards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.idp import accounts, refresh_tokens
from gateway.idp.context import IdpContext, TokenSet
from gateway.idp.errors import (
    AccountDisabled,
    InvalidGrant,
    JpkiCertificateRevoked,
    JpkiNonceInvalid,
)
from gateway.idp.events import UNKNOWN_ACCOUNT, IdentityAction
from gateway.idp.jpki import check_certificate, check_signature, new_nonce
from gateway.idp.tables import JpkiCertificate, JpkiNonce, JpkiRevocation, RefreshToken
from services.kit.assurance import Acr
from services.kit.auth import Principal
from services.kit.errors import AppError
from services.kit.ids import new_id
from services.kit.revocation import RevocationKind


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
        """Tokens with acr=jpki; every attempt is an identity event (the card's serial, never
        the signature), `jpki.card_linked` when the card meets its account."""
        serial: str | None = None
        try:
            serial = check_certificate(self.ctx.require_ca(), certificate, self.ctx.now()).serial
            tokens, linked = await self._login(certificate, nonce, signature, link_to)
        except AppError as refused:
            await self.ctx.events.record(
                IdentityAction.LOGIN_FAILED,
                actor=None,
                target=f"jpki:{serial}" if serial else UNKNOWN_ACCOUNT,
                changes={"method": "jpki", "reason": refused.slug, "card_serial": serial},
            )
            raise
        assert tokens.principal is not None
        account_id = tokens.principal.sub
        if linked:
            await self.ctx.events.record(
                IdentityAction.CARD_LINKED,
                actor=tokens.principal,
                target=account_id,
                changes={"card_serial": serial},
            )
        await self.ctx.events.record(
            IdentityAction.LOGIN_SUCCEEDED,
            actor=tokens.principal,
            target=account_id,
            changes={"method": "jpki", "card_serial": serial},
        )
        return tokens

    async def _login(
        self, certificate: Any, nonce: str, signature: bytes, link_to: Principal | None
    ) -> tuple[TokenSet, bool]:
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
                await ctx.token_set(session, account, Acr.JPKI)
                if account.status == "active"
                else None
            )
        if tokens is None:
            raise AccountDisabled("this account is disabled")
        return tokens, linked is None

    async def revoke_card(
        self, serial: str, reason: str, by: str, *, actor: Principal | None = None
    ) -> JpkiRevocation:
        serial = serial.strip().lower()
        async with self.ctx.db.session() as session:
            existing = await session.get(JpkiRevocation, serial)
            if existing is not None:
                return existing
            record = JpkiRevocation(
                serial=serial, reason=reason, revoked_by=by, revoked_at=self.ctx.now()
            )
            session.add(record)
            sessions = await self._card_sessions(session, serial)
            for family_id in sessions:
                await refresh_tokens.revoke_family(session, family_id, self.ctx.now())
                await self.ctx.revoke(session, RevocationKind.SESSION, family_id)
        if sessions:
            await self.ctx.revoked()
        await self.ctx.events.record(
            IdentityAction.CARD_REVOKED,
            actor=actor,
            target=f"jpki:{serial}",
            changes={"reason": reason, "sessions_revoked": len(sessions)},
        )
        return record

    async def _card_sessions(self, session: AsyncSession, serial: str) -> list[str]:
        """The live card-login sessions (acr=jpki) of the account the card is linked to."""
        linked = (
            await session.exec(select(JpkiCertificate).where(JpkiCertificate.serial == serial))
        ).all()
        if not linked:
            return []
        result = await session.exec(
            select(RefreshToken.family_id)
            .where(col(RefreshToken.account_id).in_([c.account_id for c in linked]))
            .where(RefreshToken.acr == Acr.JPKI)
            .where(col(RefreshToken.revoked_at).is_(None))
            .where(col(RefreshToken.expires_at) > self.ctx.now())
            .distinct()
        )
        return sorted(result.all())

    async def revocations(self) -> list[JpkiRevocation]:
        async with self.ctx.db.session(write=False) as session:
            result = await session.exec(
                select(JpkiRevocation).order_by(col(JpkiRevocation.revoked_at))
            )
            return list(result.all())
