"""`IdentityProvider`: the flows behind /auth and the token endpoint, one module each, over one
shared `IdpContext`. Built by `create_app`, started by the gateway's lifespan."""

from __future__ import annotations

from sqlmodel import col, select

from gateway.audit_log.store import AuditLog
from gateway.idp import accounts
from gateway.idp.account_flow import AccountFlow
from gateway.idp.client_flow import ClientFlow
from gateway.idp.context import IdpContext
from gateway.idp.denylist import Denylist
from gateway.idp.email_link_flow import EmailLinkFlow
from gateway.idp.jpki import MockCA
from gateway.idp.jpki_flow import JpkiFlow
from gateway.idp.password_flow import PasswordFlow
from gateway.idp.refresh_flow import RefreshFlow
from gateway.idp.tables import RevokedAccessToken
from gateway.idp.totp_flow import TotpFlow
from gateway.runtime import GatewayRuntime
from gateway.settings import GatewaySettings
from services.kit.db import Database


class IdentityProvider:
    def __init__(self, settings: GatewaySettings, runtime: GatewayRuntime) -> None:
        self.ctx = ctx = IdpContext(settings, runtime)
        self.accounts = AccountFlow(ctx)
        self.password = PasswordFlow(ctx)
        self.refresh = RefreshFlow(ctx)
        self.email_links = EmailLinkFlow(ctx)
        self.totp = TotpFlow(ctx)
        self.jpki = JpkiFlow(ctx)
        self.clients = ClientFlow(ctx)

    async def start(self, db: Database, audit: AuditLog | None = None) -> None:
        """Opens the flows on `db`; identity events go to `audit` (the gateway's chain)."""
        ctx = self.ctx
        await ctx.open(db)
        ctx.events.audit = audit
        now = ctx.now()
        async with db.session(write=False) as session:
            for sub in await accounts.disabled_ids(session):
                ctx.denylist.disable(sub)
            revoked = await session.exec(
                select(RevokedAccessToken).where(col(RevokedAccessToken.expires_at) > now)
            )
            for row in revoked.all():
                ctx.denylist.revoke_token(row.jti, row.expires_at.timestamp())

    async def stop(self) -> None:
        await self.email_links.drain()
        await self.ctx.close()

    @property
    def denylist(self) -> Denylist:
        return self.ctx.denylist

    @property
    def ca(self) -> MockCA | None:
        return self.ctx.ca

    def require_ca(self) -> MockCA:
        return self.ctx.require_ca()

    async def settle(self) -> None:
        """Waits for the background mail work started so far (tests, shutdown)."""
        await self.email_links.settle()
