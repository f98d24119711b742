"""TOTP enrolment for staff (RFC 6238): a sealed secret, confirmed by a first code; only then
do their tokens carry roles."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.idp import accounts
from gateway.idp.context import IdpContext
from gateway.idp.errors import InvalidGrant
from gateway.idp.events import IdentityAction
from gateway.idp.tables import Account
from gateway.idp.totp import Enrolment, matching_step, new_enrolment
from services.kit.auth import Principal
from services.kit.errors import Conflict, NotFound


class TotpFlow:
    def __init__(self, ctx: IdpContext) -> None:
        self.ctx = ctx

    async def enroll(self, principal: Principal) -> Enrolment:
        ctx = self.ctx
        async with ctx.db.session() as session:
            account = await accounts.by_id(session, principal.sub)
            if account is None:
                raise NotFound("no such account")
            if account.totp_confirmed_at is not None:
                raise Conflict("a one-time code authenticator is enrolled already")
            enrolment = new_enrolment(account.email or account.id)
            account.totp_secret = ctx.box.seal(enrolment.secret)
            account.updated_at = ctx.now()
            session.add(account)
        return enrolment

    async def confirm(self, principal: Principal, code: str) -> Account:
        ctx = self.ctx
        async with ctx.db.session() as session:
            account = await accounts.by_id(session, principal.sub)
            if account is None:
                raise NotFound("no such account")
            if account.totp_confirmed_at is not None:
                raise Conflict("a one-time code authenticator is enrolled already")
            if account.totp_secret is None:
                raise Conflict("start the enrolment first (POST /auth/totp/enroll)")
            secret = ctx.box.open(account.totp_secret)
            step = matching_step(secret, code, datetime.now(UTC), None)
            if step is None:
                raise InvalidGrant("wrong one-time code")
            account.totp_confirmed_at = ctx.now()
            account.totp_last_step = step
            account.updated_at = ctx.now()
            session.add(account)
        await ctx.events.record(
            IdentityAction.TOTP_ENROLLED, actor=principal, target=account.id, changes={}
        )
        return account
