"""Password login (RFC 6749 §4.3), with the one-time code for staff who enrolled one.

Two units of work: a read of the account, then (after the argon2 checks, which never run
inside a transaction) one write that claims the TOTP step, stores a rehashed password when
the parameters changed and issues the refresh token. Every outcome is an identity event
(`login.succeeded` or `login.failed` with its reason)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import col

from gateway.idp import accounts
from gateway.idp.account_flow import login_name
from gateway.idp.context import IdpContext, TokenSet
from gateway.idp.errors import AccountDisabled, EmailNotVerified, InvalidGrant, TotpRequired
from gateway.idp.events import UNKNOWN_ACCOUNT, IdentityAction
from gateway.idp.tables import Account
from gateway.idp.totp import matching_step, next_code_at, used_step
from services.kit.assurance import Acr
from services.kit.errors import AppError, TooManyRequests

LOGIN_FAILED = "wrong e-mail address or password"
TOTP_FAILED = "wrong or already used one-time code"


class _Refused(Exception):
    """A refused login: the problem to answer and the reason the event records."""

    def __init__(self, problem: AppError, reason: str) -> None:
        self.problem, self.reason = problem, reason


class PasswordFlow:
    def __init__(self, ctx: IdpContext) -> None:
        self.ctx = ctx

    async def grant(
        self, *, username: str, password: str, totp: str | None, ip: str | None
    ) -> TokenSet:
        ctx = self.ctx
        email = login_name(username)
        account: Account | None = None
        try:
            wait = ctx.limiter.retry_after(email, ip)
            if wait is not None:
                raise _Refused(
                    TooManyRequests(
                        wait, "too many failed logins; try again later", error="too_many_attempts"
                    ),
                    "too_many_attempts",
                )
            async with ctx.db.session(write=False) as session:
                account = await accounts.by_email(session, email)
            tokens, second_factor = await self._login(account, email, password, totp, ip)
        except _Refused as refused:
            await ctx.events.record(
                IdentityAction.LOGIN_FAILED,
                actor=None,
                target=account.id if account is not None else UNKNOWN_ACCOUNT,
                changes={"method": "password", "reason": refused.reason, "client_ip": ip},
            )
            raise refused.problem from None
        ctx.limiter.succeeded(email)
        await ctx.events.record(
            IdentityAction.LOGIN_SUCCEEDED,
            actor=tokens.principal,
            target=tokens.principal.sub if tokens.principal else UNKNOWN_ACCOUNT,
            changes={"method": "password", "second_factor": second_factor, "client_ip": ip},
        )
        return tokens

    async def _login(
        self,
        account: Account | None,
        email: str,
        password: str,
        totp: str | None,
        ip: str | None,
    ) -> tuple[TokenSet, str | None]:
        ctx = self.ctx
        stored = account.password_hash if account is not None else None
        matches = await ctx.passwords.verify(stored, password)
        if account is None or not matches:
            ctx.limiter.failed(email, ip)
            reason = "unknown_account" if account is None else "wrong_password"
            raise _Refused(InvalidGrant(LOGIN_FAILED), reason)
        if account.status != "active":
            raise _Refused(AccountDisabled("this account is disabled"), "disabled")
        if account.email_verified_at is None:
            raise _Refused(
                EmailNotVerified("confirm your e-mail address with the link we sent first"),
                "email_not_verified",
            )
        step = self._totp_step(account, totp, email, ip)
        new_hash = None
        if stored is not None and ctx.passwords.needs_rehash(stored):
            new_hash = await ctx.passwords.hash(password)
        async with ctx.db.session() as session:
            if step is not None and not await accounts.record_totp_step(session, account.id, step):
                ctx.limiter.failed(email, ip)
                raise _Refused(InvalidGrant(TOTP_FAILED), "totp_reused")
            if new_hash is not None:
                conn = await session.connection()
                await conn.execute(
                    update(Account)
                    .where(col(Account.id) == account.id)
                    .values(password_hash=new_hash)
                )
            acr = Acr.MFA if step is not None else Acr.PASSWORD
            tokens = await ctx.token_set(session, account, acr)
        return tokens, ("totp" if step is not None else None)

    def _totp_step(
        self, account: Account, code: str | None, email: str, ip: str | None
    ) -> int | None:
        """The time step `code` matches for a staff account with a confirmed authenticator
        (claimed in the login's write), None when no code is needed."""
        if account.kind != "staff" or account.totp_confirmed_at is None:
            return None
        if not code:
            raise _Refused(
                TotpRequired("staff accounts need the one-time code in the totp field"),
                "totp_missing",
            )
        assert account.totp_secret is not None
        secret = self.ctx.box.open(account.totp_secret)
        now = datetime.now(UTC)
        step = matching_step(secret, code, now, account.totp_last_step)
        if step is None:
            self.ctx.limiter.failed(email, ip)
            last = account.totp_last_step
            if last is not None and used_step(secret, code, now, last) is not None:
                raise _Refused(_wait_for_next_code(last, now), "totp_reused")
            raise _Refused(InvalidGrant(TOTP_FAILED), "totp_wrong")
        return step


def _wait_for_next_code(last_step: int, now: datetime) -> InvalidGrant:
    """A real code of a step already used (the TOTP confirmation, or the last login, in the
    same 30 s): say when the next one can be used."""
    ready = next_code_at(last_step)
    wait = max(1, math.ceil((ready - now).total_seconds()))
    return InvalidGrant(
        "this one-time code was used already (each 30-second code works once, and the TOTP"
        " confirmation or the last login used it): wait for the next code, from"
        f" {ready.isoformat()} (in {wait} s)",
        next_code_at=ready.isoformat(),
        retry_after_seconds=wait,
    )
