"""`IdentityProvider`: the flows behind /auth and the token endpoint, one module each, over one
shared `IdpContext`. Built by `create_app`, started by the gateway's lifespan."""

from __future__ import annotations

from gateway.audit_log.store import AuditLog
from gateway.idp.account_flow import AccountFlow
from gateway.idp.client_flow import ClientFlow
from gateway.idp.context import IdpContext
from gateway.idp.email_link_flow import EmailLinkFlow
from gateway.idp.jpki import MockCA
from gateway.idp.jpki_flow import JpkiFlow
from gateway.idp.password_flow import PasswordFlow
from gateway.idp.refresh_flow import RefreshFlow
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
        self.ctx.events.audit = audit
        await self.ctx.open(db)

    async def stop(self) -> None:
        await self.email_links.drain()
        await self.ctx.close()

    @property
    def ca(self) -> MockCA | None:
        return self.ctx.ca

    def require_ca(self) -> MockCA:
        return self.ctx.require_ca()

    async def settle(self) -> None:
        """Waits for the background mail work started so far (tests, shutdown)."""
        await self.email_links.settle()
