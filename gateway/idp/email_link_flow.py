"""かんたん login (acr=email): a one-time login link mailed to a verified citizen or business
address, redeemed once at the token endpoint."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

from gateway.idp import accounts, email_links, mail
from gateway.idp.account_flow import checked_email
from gateway.idp.context import IdpContext, TokenSet
from gateway.idp.errors import AccountDisabled, EmailLinkRefused
from gateway.idp.events import IdentityAction
from services.kit.assurance import Acr

log = logging.getLogger("cityhall.gateway.idp")

EMAIL_LOGIN_KINDS = frozenset({"citizen", "business"})  # staff need password + TOTP
MAX_PENDING_LOGIN_MAILS = 200  # a flood from many addresses must not pile up tasks
STOP_GRACE_SECONDS = 5.0


class EmailLinkFlow:
    def __init__(self, ctx: IdpContext) -> None:
        self.ctx = ctx
        self._background: set[asyncio.Task[None]] = set()

    def request(self, email: str) -> None:
        """Mails a login link if `email` belongs to an active citizen or business account with
        a verified address; otherwise nothing. The work runs in the background so that neither
        the answer nor its timing tells whether the account exists."""
        email = checked_email(email)
        if len(self._background) >= MAX_PENDING_LOGIN_MAILS:
            log.warning(
                "e-mail login: %d link mails pending; this request dropped", MAX_PENDING_LOGIN_MAILS
            )
            return
        task = asyncio.create_task(self._mail_link(email))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self) -> None:
        """Waits for the background mail work started so far (tests, shutdown)."""
        pending = set(self._background)
        if pending:
            await asyncio.gather(*pending)

    async def drain(self) -> None:
        if self._background:  # mails being sent: let them finish, briefly
            await asyncio.wait(self._background, timeout=STOP_GRACE_SECONDS)

    async def _mail_link(self, email: str) -> None:
        ctx = self.ctx
        try:
            now = ctx.now()
            ttl = timedelta(seconds=ctx.settings.email_login_ttl_seconds)
            jti = secrets.token_urlsafe(24)
            async with ctx.db.session() as session:
                account = await accounts.by_email(session, email)
                if (
                    account is None
                    or account.kind not in EMAIL_LOGIN_KINDS
                    or account.status != "active"
                    or account.email_verified_at is None
                ):
                    return
                recent = await email_links.issued_since(
                    session, account.id, now - timedelta(hours=1)
                )
                if recent >= ctx.settings.email_login_links_per_hour:
                    log.warning("e-mail login links for %s: hourly limit reached", account.id)
                    return
                await email_links.purge(session, expired_before=now - timedelta(days=1))
                await email_links.record(session, jti=jti, account_id=account.id, now=now, ttl=ttl)
            link = ctx.mail_link(
                "/auth/email-login",
                purpose="email-login",
                sub=account.id,
                now=now,
                ttl=ttl,
                email=email,
                jti=jti,
            )
            minutes = max(1, int(ttl.total_seconds() // 60))
            await ctx.send(
                mail.email_login(
                    ctx.settings.mail_sender, email, account.display_name, link, minutes
                )
            )
        except Exception:
            log.exception("an e-mail login link could not be sent")

    async def grant(self, token: str) -> TokenSet:
        """Redeems a mailed login link once: tokens with acr=email, in one unit of work."""
        ctx = self.ctx
        claims = ctx.link_claims(token, "email-login", EmailLinkRefused)
        jti, sub = claims.get("jti"), str(claims["sub"])
        if not isinstance(jti, str):
            raise EmailLinkRefused("the link is not valid")
        tokens: TokenSet | None = None
        async with ctx.db.session() as session:
            claimed = await email_links.claim(session, jti=jti, account_id=sub, now=ctx.now())
            account = await accounts.by_id(session, sub) if claimed else None
            usable = account is not None and account.email == claims.get("email")
            if claimed and usable and account is not None and account.status == "active":
                tokens = await ctx.token_set(session, account, Acr.EMAIL)
        if tokens is not None:
            await ctx.events.record(
                IdentityAction.LOGIN_SUCCEEDED,
                actor=account,
                target=sub,
                changes={"method": "email_link"},
            )
            return tokens
        reason = "link_used" if not claimed else "link_invalid" if not usable else "disabled"
        await ctx.events.record(
            IdentityAction.LOGIN_FAILED,
            actor=None,
            target=sub,
            changes={"method": "email_link", "reason": reason},
        )
        if not claimed:
            raise EmailLinkRefused("the link was used already or has expired")
        if not usable:
            raise EmailLinkRefused("the link is not valid")
        raise AccountDisabled("this account is disabled")
