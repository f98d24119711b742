"""`IdentityProvider`: the flows behind the /auth routes (registration, grants, e-mail login
links, revocation, staff administration, TOTP enrolment, JPKI login). Built by `create_app`,
started by the gateway's lifespan."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from gateway.idp import accounts, email_links, links, mail, refresh_tokens
from gateway.idp.denylist import Denylist
from gateway.idp.errors import (
    AccountDisabled,
    EmailLinkRefused,
    EmailNotVerified,
    InvalidGrant,
    InvalidLink,
    JpkiCertificateRevoked,
    JpkiNonceInvalid,
    RefreshTokenReused,
    TotpRequired,
)
from gateway.idp.jpki import MockCA, check_certificate, check_signature, new_nonce
from gateway.idp.login_limits import LoginLimiter
from gateway.idp.passwords import Passwords
from gateway.idp.tables import (
    Account,
    JpkiCertificate,
    JpkiNonce,
    JpkiRevocation,
    RevokedAccessToken,
)
from gateway.idp.totp import (
    Enrolment,
    SecretBox,
    matching_step,
    new_enrolment,
    next_code_at,
    used_step,
)
from gateway.runtime import GatewayRuntime
from gateway.settings import GatewaySettings
from gateway.tokens import issue_access_token
from services.kit.auth import Principal
from services.kit.db import Database
from services.kit.errors import (
    AppError,
    Conflict,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
)
from services.kit.ids import new_id
from services.kit.mailer import Mailer

log = logging.getLogger("cityhall.gateway.idp")

ENROL_SCOPE = "totp:enroll"
LOGIN_FAILED = "wrong e-mail address or password"
EMAIL_LOGIN_KINDS = frozenset({"citizen", "business"})  # staff need password + TOTP
MAX_PENDING_LOGIN_MAILS = 200  # a flood from many addresses must not pile up tasks


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    expires_in: int
    scope: str
    acr: str
    refresh_token: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
            "acr": self.acr,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


class IdentityProvider:
    def __init__(self, settings: GatewaySettings, runtime: GatewayRuntime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.passwords = Passwords(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
        )
        self.limiter = LoginLimiter(
            per_account=settings.login_failures_per_account,
            per_ip=settings.login_failures_per_ip,
            window_seconds=settings.login_failure_window_seconds,
        )
        self.denylist = Denylist()
        self.box = SecretBox(settings.idp_secret.get_secret_value())
        self.mailer: Mailer | None = None
        self.ca: MockCA | None = None
        self._db: Database | None = None
        self._background: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, db: Database) -> None:
        self._db = db
        self.ca = await asyncio.to_thread(MockCA.load_or_create, self.settings.jpki_path)
        self.mailer = Mailer(self.settings.smtp_host, self.settings.smtp_port, pool_size=2)
        now = self.now()
        async with db.session(write=False) as session:
            for sub in await accounts.disabled_ids(session):
                self.denylist.disable(sub)
            revoked = await session.exec(
                select(RevokedAccessToken).where(col(RevokedAccessToken.expires_at) > now)
            )
            for row in revoked.all():
                self.denylist.revoke_token(row.jti, row.expires_at.timestamp())

    async def stop(self) -> None:
        if self._background:  # mails being sent: let them finish, briefly
            await asyncio.wait(self._background, timeout=5)
        if self.mailer is not None:
            await self.mailer.close()
        self._db = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise ServiceUnavailable("the gateway is starting")
        return self._db

    def now(self) -> datetime:
        """The gateway clock (simulation offset included): link, nonce and card validity."""
        return self.runtime.clock.now()

    # --- tokens ------------------------------------------------------------------------

    def _access_token(
        self, account: Account, acr: str, scopes: list[str] | None = None
    ) -> tuple[str, list[str], list[str]]:
        roles = list(account.roles) if account.kind == "staff" else []
        granted = list(scopes or [])
        if account.kind == "staff" and account.totp_confirmed_at is None:
            roles, granted = [], [ENROL_SCOPE]  # until the second factor is enrolled
        settings = self.settings
        token = issue_access_token(
            self.runtime.require_keystore(),
            sub=account.id,
            kind=account.kind,  # type: ignore[arg-type]  # an AccountKind
            roles=roles,
            scopes=granted,
            department=account.department,
            acr=acr,
            ttl=settings.access_token_ttl_seconds,
            issuer=settings.issuer,
            audience=settings.audience,
            now=datetime.now(UTC),  # wall clock: see gateway.tokens
        )
        return token, roles, granted

    async def _token_set(
        self, account: Account, acr: str, family_id: str | None = None
    ) -> TokenSet:
        access, _, scopes = self._access_token(account, acr)
        async with self.db.session() as session:
            refresh = await refresh_tokens.issue(
                session,
                account_id=account.id,
                acr=acr,
                now=self.now(),
                ttl=timedelta(seconds=self.settings.refresh_token_ttl_seconds),
                family_id=family_id,
            )
        return TokenSet(
            access, self.settings.access_token_ttl_seconds, " ".join(scopes), acr, refresh
        )

    # --- registration and e-mail links -------------------------------------------------

    def _mail_link(
        self,
        path: str,
        *,
        purpose: links.Purpose,
        sub: str,
        now: datetime,
        ttl: timedelta,
        **claims: Any,
    ) -> str:
        """The URL mailed for `purpose`: `path` on the public URL with a signed token."""
        token = links.sign_link(
            self.settings.idp_secret.get_secret_value(),
            purpose=purpose,
            sub=sub,
            now=now,
            ttl=ttl,
            **claims,
        )
        return f"{self.settings.public_url.rstrip('/')}{path}?token={quote(token)}"

    def _link_claims(
        self, token: str, purpose: links.Purpose, refusal: type[AppError] = InvalidLink
    ) -> dict[str, Any]:
        """The claims of a mailed link's token; `refusal` when it is invalid or expired."""
        try:
            return links.read_link(
                self.settings.idp_secret.get_secret_value(),
                token,
                purpose=purpose,
                now=self.now(),
            )
        except links.LinkError as exc:
            raise refusal(str(exc)) from exc

    async def _send(self, message: EmailMessage) -> bool:
        if self.mailer is None:
            raise ServiceUnavailable("the gateway is starting")
        result = await self.mailer.send(message)
        if not result.ok:
            log.warning(
                "mail to %s not delivered: %s %s", message["To"], result.outcome, result.detail
            )
        return result.ok

    async def register(
        self, *, kind: accounts.AccountKind, email: str, password: str | None, display_name: str
    ) -> bool:
        """Creates an unverified account and mails the verification link. An address that is
        already registered gets a notice instead, and the caller sees the same answer."""
        password_hash = await self.passwords.hash(password) if password else None
        now = self.now()
        sender = self.settings.mail_sender
        account = accounts.new_account(
            kind, display_name=display_name, now=now, email=email, password_hash=password_hash
        )
        try:
            async with self.db.session() as session:
                exists = await accounts.by_email(session, email) is not None
                if not exists:
                    session.add(account)
        except IntegrityError:  # registered concurrently
            exists = True
        if exists:
            return await self._send(mail.already_registered(sender, email))
        return await self._send_verification(account)

    async def _send_verification(self, account: Account) -> bool:
        assert account.email is not None
        ttl = timedelta(seconds=self.settings.email_link_ttl_seconds)
        link = self._mail_link(
            "/auth/verify-email",
            purpose="verify-email",
            sub=account.id,
            now=self.now(),
            ttl=ttl,
            email=account.email,
        )
        hours = max(1, int(ttl.total_seconds() // 3600))
        message = mail.verification(
            self.settings.mail_sender, account.email, account.display_name, link, hours
        )
        return await self._send(message)

    async def verify_email(self, token: str) -> Account:
        claims = self._link_claims(token, "verify-email")
        async with self.db.session() as session:
            account = await accounts.by_id(session, str(claims["sub"]))
            if account is None or account.email != claims.get("email"):
                raise InvalidLink("the link is not valid")
            if account.email_verified_at is None:
                account.email_verified_at = self.now()
                account.updated_at = self.now()
                session.add(account)
        return account

    async def set_password_with_link(self, token: str, password: str) -> Account:
        claims = self._link_claims(token, "set-password")
        password_hash = await self.passwords.hash(password)
        async with self.db.session() as session:
            account = await accounts.by_id(session, str(claims["sub"]))
            if account is None or account.credential_version != claims.get("ver"):
                raise InvalidLink("the link was used already or is not valid")
            account.password_hash = password_hash
            account.credential_version += 1
            if account.email_verified_at is None:
                account.email_verified_at = self.now()  # the link proved the address
            account.updated_at = self.now()
            session.add(account)
        return account

    # --- かんたん login (acr=email) --------------------------------------------------------

    def request_email_login(self, email: str) -> None:
        """Mails a login link if `email` belongs to an active citizen or business account with
        a verified address; otherwise nothing. The work runs in the background so that neither
        the answer nor its timing tells whether the account exists."""
        if len(self._background) >= MAX_PENDING_LOGIN_MAILS:
            log.warning(
                "e-mail login: %d link mails pending; this request dropped", MAX_PENDING_LOGIN_MAILS
            )
            return
        task = asyncio.create_task(self._mail_email_login(email))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self) -> None:
        """Waits for the background mail work started so far (tests, shutdown)."""
        pending = set(self._background)
        if pending:
            await asyncio.gather(*pending)

    async def _mail_email_login(self, email: str) -> None:
        try:
            now = self.now()
            ttl = timedelta(seconds=self.settings.email_login_ttl_seconds)
            jti = secrets.token_urlsafe(24)
            async with self.db.session() as session:
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
                if recent >= self.settings.email_login_links_per_hour:
                    log.warning("e-mail login links for %s: hourly limit reached", account.id)
                    return
                await email_links.purge(session, expired_before=now - timedelta(days=1))
                await email_links.record(session, jti=jti, account_id=account.id, now=now, ttl=ttl)
            link = self._mail_link(
                "/auth/email-login",
                purpose="email-login",
                sub=account.id,
                now=now,
                ttl=ttl,
                email=email,
                jti=jti,
            )
            minutes = max(1, int(ttl.total_seconds() // 60))
            await self._send(
                mail.email_login(
                    self.settings.mail_sender, email, account.display_name, link, minutes
                )
            )
        except Exception:
            log.exception("an e-mail login link could not be sent")

    async def email_login_grant(self, token: str) -> TokenSet:
        """Redeems a mailed login link once: tokens with acr=email."""
        claims = self._link_claims(token, "email-login", EmailLinkRefused)
        jti, sub = claims.get("jti"), str(claims["sub"])
        if not isinstance(jti, str):
            raise EmailLinkRefused("the link is not valid")
        async with self.db.session() as session:
            claimed = await email_links.claim(session, jti=jti, account_id=sub, now=self.now())
            account = await accounts.by_id(session, sub) if claimed else None
        if not claimed:
            raise EmailLinkRefused("the link was used already or has expired")
        if account is None or account.email != claims.get("email"):
            raise EmailLinkRefused("the link is not valid")
        if account.status != "active":
            raise AccountDisabled("this account is disabled")
        return await self._token_set(account, "email")

    # --- grants ------------------------------------------------------------------------

    async def password_grant(
        self, *, username: str, password: str, totp: str | None, ip: str | None
    ) -> TokenSet:
        email = accounts.normalize_email(username)
        wait = self.limiter.retry_after(email, ip)
        if wait is not None:
            raise TooManyRequests(
                wait, "too many failed logins; try again later", error="too_many_attempts"
            )
        async with self.db.session(write=False) as session:
            account = await accounts.by_email(session, email)
        stored = account.password_hash if account is not None else None
        matches = await self.passwords.verify(stored, password)
        if account is None or not matches:
            self.limiter.failed(email, ip)
            raise InvalidGrant(LOGIN_FAILED)
        if account.status != "active":
            raise AccountDisabled("this account is disabled")
        if account.email_verified_at is None:
            raise EmailNotVerified("confirm your e-mail address with the link we sent first")
        if account.kind == "staff" and account.totp_confirmed_at is not None:
            await self._check_totp(account, totp, email, ip)
        self.limiter.succeeded(email)
        if stored is not None and self.passwords.needs_rehash(stored):
            await self._rehash(account.id, password)
        return await self._token_set(account, "password")

    async def _check_totp(
        self, account: Account, code: str | None, email: str, ip: str | None
    ) -> None:
        if not code:
            raise TotpRequired("staff accounts need the one-time code in the totp field")
        assert account.totp_secret is not None
        secret = self.box.open(account.totp_secret)
        step = matching_step(secret, code, datetime.now(UTC), account.totp_last_step)
        claimed = False
        if step is not None:
            async with self.db.session() as session:
                claimed = await accounts.record_totp_step(session, account.id, step)
        if not claimed:
            self.limiter.failed(email, ip)
            now = datetime.now(UTC)
            last = account.totp_last_step
            if step is None and last is not None and used_step(secret, code, now, last) is not None:
                ready = next_code_at(last)
                wait = max(1, math.ceil((ready - now).total_seconds()))
                raise InvalidGrant(
                    "this one-time code was used already (each 30-second code works once, "
                    "and the TOTP confirmation or the last login used it): wait for the next "
                    f"code, from {ready.isoformat()} (in {wait} s)",
                    next_code_at=ready.isoformat(),
                    retry_after_seconds=wait,
                )
            raise InvalidGrant("wrong or already used one-time code")

    async def _rehash(self, account_id: str, password: str) -> None:
        new_hash = await self.passwords.hash(password)
        async with self.db.session() as session:
            conn = await session.connection()
            await conn.execute(
                update(Account).where(col(Account.id) == account_id).values(password_hash=new_hash)
            )

    async def refresh_grant(self, token: str) -> TokenSet:
        now = self.now()
        async with self.db.session() as session:
            rotation = await refresh_tokens.consume(session, token, now)
            account = (
                await accounts.by_id(session, rotation.previous.account_id)
                if rotation.previous is not None
                else None
            )
        if rotation.outcome == "unknown" or rotation.previous is None:
            raise InvalidGrant("unknown refresh token")
        if rotation.outcome == "reused":
            log.warning("refresh token reuse: family %s revoked", rotation.previous.family_id)
            raise RefreshTokenReused(
                "this refresh token was already used; the whole session has been revoked"
            )
        if rotation.outcome == "expired":
            raise InvalidGrant("the refresh token has expired")
        if account is None or account.status != "active":
            raise AccountDisabled("this account is disabled")
        return await self._token_set(account, rotation.previous.acr, rotation.previous.family_id)

    # --- revocation ----------------------------------------------------------------------

    async def revoke_access(self, principal: Principal) -> None:
        if principal.token_id is None:
            return
        expires = datetime.fromtimestamp(principal.expires_at or 0, UTC)
        self.denylist.revoke_token(principal.token_id, expires.timestamp())
        async with self.db.session() as session:
            if await session.get(RevokedAccessToken, principal.token_id) is None:
                session.add(RevokedAccessToken(jti=principal.token_id, expires_at=expires))

    async def revoke_refresh(self, token: str, *, owner: str | None = None) -> bool:
        async with self.db.session() as session:
            record = await refresh_tokens.find(session, token)
            if record is None or (owner is not None and record.account_id != owner):
                return False
            await refresh_tokens.revoke_family(session, record.family_id, self.now())
        return True

    # --- accounts ------------------------------------------------------------------------

    async def account(self, account_id: str) -> Account | None:
        async with self.db.session(write=False) as session:
            return await accounts.by_id(session, account_id)

    async def create_staff(
        self,
        *,
        email: str,
        display_name: str,
        department: str,
        roles: list[str],
        initial_password: str | None,
    ) -> tuple[Account, bool]:
        """A staff account; without an initial password a one-time set-password link is
        mailed. Returns the account and whether that mail was delivered."""
        password_hash = await self.passwords.hash(initial_password) if initial_password else None
        now = self.now()
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
            async with self.db.session() as session:
                if await accounts.by_email(session, email) is not None:
                    raise Conflict("an account with this e-mail address exists")
                session.add(account)
        except IntegrityError as exc:
            raise Conflict("an account with this e-mail address exists") from exc
        mailed = False
        if not initial_password:
            ttl = timedelta(seconds=self.settings.email_link_ttl_seconds)
            link = self._mail_link(
                "/auth/password",
                purpose="set-password",
                sub=account.id,
                now=now,
                ttl=ttl,
                ver=account.credential_version,
            )
            hours = max(1, int(ttl.total_seconds() // 3600))
            mailed = await self._send(
                mail.set_password(self.settings.mail_sender, email, display_name, link, hours)
            )
        return account, mailed

    async def set_status(self, account_id: str, status: str) -> Account:
        now = self.now()
        async with self.db.session() as session:
            account = await accounts.by_id(session, account_id)
            if account is None:
                raise NotFound("no such account")
            account.status = status
            account.updated_at = now
            session.add(account)
            if status == "disabled":
                await refresh_tokens.revoke_account(session, account_id, now)
        if status == "disabled":
            self.denylist.disable(account_id)
        else:
            self.denylist.enable(account_id)
        return account

    # --- TOTP ----------------------------------------------------------------------------

    async def totp_enroll(self, principal: Principal) -> Enrolment:
        async with self.db.session() as session:
            account = await accounts.by_id(session, principal.sub)
            if account is None:
                raise NotFound("no such account")
            if account.totp_confirmed_at is not None:
                raise Conflict("a one-time code authenticator is enrolled already")
            enrolment = new_enrolment(account.email or account.id)
            account.totp_secret = self.box.seal(enrolment.secret)
            account.updated_at = self.now()
            session.add(account)
        return enrolment

    async def totp_confirm(self, principal: Principal, code: str) -> Account:
        async with self.db.session() as session:
            account = await accounts.by_id(session, principal.sub)
            if account is None:
                raise NotFound("no such account")
            if account.totp_confirmed_at is not None:
                raise Conflict("a one-time code authenticator is enrolled already")
            if account.totp_secret is None:
                raise Conflict("start the enrolment first (POST /auth/totp/enroll)")
            secret = self.box.open(account.totp_secret)
            step = matching_step(secret, code, datetime.now(UTC), None)
            if step is None:
                raise InvalidGrant("wrong one-time code")
            account.totp_confirmed_at = self.now()
            account.totp_last_step = step
            account.updated_at = self.now()
            session.add(account)
        return account

    # --- JPKI ------------------------------------------------------------------------------

    def require_ca(self) -> MockCA:
        if self.ca is None:
            raise ServiceUnavailable("the gateway is starting")
        return self.ca

    async def jpki_challenge(self) -> JpkiNonce:
        now = self.now()
        nonce = JpkiNonce(
            nonce=new_nonce(),
            expires_at=now + timedelta(seconds=self.settings.jpki_nonce_ttl_seconds),
        )
        async with self.db.session() as session:
            session.add(nonce)
        return nonce

    async def jpki_login(
        self, *, certificate: Any, nonce: str, signature: bytes, link_to: Principal | None
    ) -> TokenSet:
        now = self.now()
        identity = check_certificate(self.require_ca(), certificate, now)
        async with self.db.session() as session:
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
        async with self.db.session() as session:
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
        if account.status != "active":
            raise AccountDisabled("this account is disabled")
        return await self._token_set(account, "jpki")

    async def revoke_card(self, serial: str, reason: str, by: str) -> JpkiRevocation:
        serial = serial.strip().lower()
        async with self.db.session() as session:
            existing = await session.get(JpkiRevocation, serial)
            if existing is not None:
                return existing
            record = JpkiRevocation(
                serial=serial, reason=reason, revoked_by=by, revoked_at=self.now()
            )
            session.add(record)
        return record

    async def revocations(self) -> list[JpkiRevocation]:
        async with self.db.session(write=False) as session:
            result = await session.exec(
                select(JpkiRevocation).order_by(col(JpkiRevocation.revoked_at))
            )
            return list(result.all())
