"""Accounts: registration and its verification link, setting a password with a mailed link,
staff accounts made by an administrator, disabling and enabling. The policies (e-mail
syntax, password rules, known staff roles) are checked here, not in the routes."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from gateway.idp import accounts, mail, refresh_tokens
from gateway.idp.context import IdpContext
from gateway.idp.errors import InvalidLink
from gateway.idp.events import UNKNOWN_ACCOUNT, IdentityAction
from gateway.idp.passwords import password_problem
from gateway.idp.tables import Account
from services.kit.auth import Principal
from services.kit.errors import Conflict, NotFound, UnprocessableContent
from services.kit.revocation import RevocationKind


def checked_email(raw: str, field: str = "email") -> str:
    email = accounts.normalize_email(raw)
    problem = accounts.email_problem(email)
    if problem:
        raise UnprocessableContent(problem, field=field)
    return email


def checked_password(password: str, field: str = "password") -> str:
    problem = password_problem(password)
    if problem:
        raise UnprocessableContent(problem, field=field)
    return password


def checked_roles(roles: list[str], field: str = "roles") -> list[str]:
    unknown = sorted(set(roles) - accounts.STAFF_ROLES)
    if unknown:
        raise UnprocessableContent(f"unknown roles: {', '.join(unknown)}", field=field)
    return roles


class AccountFlow:
    def __init__(self, ctx: IdpContext) -> None:
        self.ctx = ctx

    async def get(self, account_id: str) -> Account | None:
        async with self.ctx.db.session(write=False) as session:
            return await accounts.by_id(session, account_id)

    async def register(
        self, *, kind: accounts.AccountKind, email: str, password: str | None, display_name: str
    ) -> bool:
        """Creates an unverified account and mails the verification link. An address that is
        already registered gets a notice instead, and the caller sees the same answer."""
        ctx = self.ctx
        email = checked_email(email)
        if password is not None:
            checked_password(password)
        password_hash = await ctx.passwords.hash(password) if password else None
        account = accounts.new_account(
            kind, display_name=display_name, now=ctx.now(), email=email, password_hash=password_hash
        )
        existing: str | None = None
        try:
            async with ctx.db.session() as session:
                found = await accounts.by_email(session, email)
                if found is None:
                    session.add(account)
                else:
                    existing = found.id
        except IntegrityError:  # registered concurrently
            existing = UNKNOWN_ACCOUNT
        if existing is not None:
            await ctx.events.record(
                IdentityAction.REGISTRATION_REPEATED, actor=None, target=existing
            )
            return await ctx.send(mail.already_registered(ctx.settings.mail_from, email))
        await ctx.events.record(
            IdentityAction.REGISTERED,
            actor=account,
            target=account.id,
            changes={"kind": kind, "password": password is not None},
        )
        return await self._send_verification(account)

    async def _send_verification(self, account: Account) -> bool:
        assert account.email is not None
        ctx = self.ctx
        ttl = timedelta(seconds=ctx.settings.email_link_ttl_seconds)
        link = ctx.mail_link(
            "/auth/verify-email",
            purpose="verify-email",
            sub=account.id,
            now=ctx.now(),
            ttl=ttl,
            email=account.email,
        )
        hours = max(1, int(ttl.total_seconds() // 3600))
        message = mail.verification(
            ctx.settings.mail_from, account.email, account.display_name, link, hours
        )
        return await ctx.send(message)

    async def verify_email(self, token: str) -> Account:
        ctx = self.ctx
        claims = ctx.link_claims(token, "verify-email")
        async with ctx.db.session() as session:
            account = await accounts.by_id(session, str(claims["sub"]))
            if account is None or account.email != claims.get("email"):
                raise InvalidLink("the link is not valid")
            newly = account.email_verified_at is None
            if newly:
                account.email_verified_at = ctx.now()
                account.updated_at = ctx.now()
                session.add(account)
        if newly:
            await ctx.events.record(IdentityAction.EMAIL_VERIFIED, actor=account, target=account.id)
        return account

    async def set_password_with_link(self, token: str, password: str) -> Account:
        ctx = self.ctx
        claims = ctx.link_claims(token, "set-password")
        password_hash = await ctx.passwords.hash(checked_password(password))
        async with ctx.db.session() as session:
            account = await accounts.by_id(session, str(claims["sub"]))
            if account is None or account.credential_version != claims.get("ver"):
                raise InvalidLink("the link was used already or is not valid")
            account.password_hash = password_hash
            account.credential_version += 1
            if account.email_verified_at is None:
                account.email_verified_at = ctx.now()  # the link proved the address
            account.updated_at = ctx.now()
            session.add(account)
        await ctx.events.record(
            IdentityAction.PASSWORD_SET,
            actor=account,
            target=account.id,
            changes={"via": "mailed_link"},
        )
        return account

    async def create_staff(
        self,
        *,
        email: str,
        display_name: str,
        department: str,
        roles: list[str],
        initial_password: str | None,
        by: Principal | None = None,
    ) -> tuple[Account, bool]:
        """A staff account; without an initial password a one-time set-password link is
        mailed. Returns the account and whether that mail was delivered."""
        ctx = self.ctx
        checked_roles(roles)
        if initial_password is not None:
            checked_password(initial_password, "initial_password")
        email = checked_email(email)
        password_hash = await ctx.passwords.hash(initial_password) if initial_password else None
        now = ctx.now()
        account = accounts.new_account(
            "staff",
            display_name=display_name,
            now=now,
            email=email,
            password_hash=password_hash,
            department=department,
            roles=roles,
        )
        if initial_password:
            account.email_verified_at = now  # the admin vouches for the address
        try:
            async with ctx.db.session() as session:
                if await accounts.by_email(session, email) is not None:
                    raise Conflict("an account with this e-mail address exists")
                session.add(account)
        except IntegrityError as exc:
            raise Conflict("an account with this e-mail address exists") from exc
        await ctx.events.record(
            IdentityAction.STAFF_CREATED,
            actor=by,
            target=account.id,
            changes={
                "department": department,
                "roles": list(account.roles),
                "credential": "initial_password" if initial_password else "set_password_link",
            },
        )
        mailed = False
        if not initial_password:
            ttl = timedelta(seconds=ctx.settings.email_link_ttl_seconds)
            link = ctx.mail_link(
                "/auth/password",
                purpose="set-password",
                sub=account.id,
                now=now,
                ttl=ttl,
                ver=account.credential_version,
            )
            hours = max(1, int(ttl.total_seconds() // 3600))
            mailed = await ctx.send(
                mail.set_password(ctx.settings.mail_from, email, display_name, link, hours)
            )
        return account, mailed

    async def set_status(
        self, account_id: str, status: str, by: Principal | None = None
    ) -> Account:
        ctx = self.ctx
        now = ctx.now()
        async with ctx.db.session() as session:
            account = await accounts.by_id(session, account_id)
            if account is None:
                raise NotFound("no such account")
            before = account.status
            account.status = status
            account.updated_at = now
            session.add(account)
            if status == "disabled":
                await refresh_tokens.revoke_account(session, account_id, now)
                # every token issued so far; a login after enabling gets a later iat
                await ctx.revoke(
                    session, RevocationKind.ACCOUNT, account_id, issued_before=time.time()
                )
        if status == "disabled":
            await ctx.revoked()
        if before != status:
            action = IdentityAction.DISABLED if status == "disabled" else IdentityAction.ENABLED
            await ctx.events.record(
                action, actor=by, target=account_id, changes={"status": [before, status]}
            )
        return account
