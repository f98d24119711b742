"""Sessions: the refresh-token grant (RFC 6749 §6, rotating, reuse revokes the session) and
revocation of access and refresh tokens (logout, RFC 7009)."""

from __future__ import annotations

import logging

from gateway.idp import accounts, refresh_tokens
from gateway.idp.context import IdpContext, TokenSet
from gateway.idp.errors import AccountDisabled, InvalidGrant, RefreshTokenReused
from gateway.idp.events import IdentityAction
from services.kit.auth import Principal
from services.kit.revocation import RevocationKind

log = logging.getLogger("cityhall.gateway.idp")


class RefreshFlow:
    def __init__(self, ctx: IdpContext) -> None:
        self.ctx = ctx

    async def grant(self, token: str) -> TokenSet:
        """One unit of work: the rotation, and the next token when it rotated. A refused
        rotation commits too (a reuse must leave its family revoked)."""
        ctx = self.ctx
        now = ctx.now()
        tokens: TokenSet | None = None
        async with ctx.db.session() as session:
            rotation = await refresh_tokens.consume(session, token, now)
            previous = rotation.previous
            if rotation.outcome == "reused" and previous is not None:
                await ctx.revoke(session, RevocationKind.SESSION, previous.family_id)
            account = (
                await accounts.by_id(session, previous.account_id) if previous is not None else None
            )
            if (
                rotation.outcome == "rotated"
                and previous is not None
                and account is not None
                and account.status == "active"
            ):
                tokens = await ctx.token_set(session, account, previous.acr, previous.family_id)
        if tokens is not None:
            return tokens
        if rotation.outcome == "unknown" or previous is None:
            raise InvalidGrant("unknown refresh token")
        if rotation.outcome == "reused":
            log.warning("refresh token reuse: family %s revoked", previous.family_id)
            await ctx.revoked()
            await ctx.events.record(
                IdentityAction.REFRESH_REUSED,
                actor=None,
                target=previous.account_id,
                changes={"session": previous.family_id},
            )
            raise RefreshTokenReused(
                "this refresh token was already used; the whole session has been revoked"
            )
        if rotation.outcome == "expired":
            raise InvalidGrant("the refresh token has expired")
        raise AccountDisabled("this account is disabled")

    async def revoke_access(self, principal: Principal) -> None:
        if principal.token_id is None:
            return
        ctx = self.ctx
        async with ctx.db.session() as session:
            await ctx.revoke(
                session,
                RevocationKind.TOKEN,
                principal.token_id,
                expires_at=(principal.expires_at or 0) + 60,
            )
        await ctx.revoked()
        await self.ctx.events.record(
            IdentityAction.LOGGED_OUT,
            actor=principal,
            target=principal.sub,
            changes={"token_id": principal.token_id},
        )

    async def revoke_refresh(
        self, token: str, *, owner: str | None = None, actor: Principal | None = None
    ) -> bool:
        async with self.ctx.db.session() as session:
            record = await refresh_tokens.find(session, token)
            if record is None or (owner is not None and record.account_id != owner):
                return False
            await refresh_tokens.revoke_family(session, record.family_id, self.ctx.now())
            await self.ctx.revoke(session, RevocationKind.SESSION, record.family_id)
        await self.ctx.revoked()
        await self.ctx.events.record(
            IdentityAction.SESSION_REVOKED,
            actor=actor,
            target=record.account_id,
            changes={"session": record.family_id},
        )
        return True
