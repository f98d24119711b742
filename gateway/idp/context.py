"""What every flow of the identity provider shares: settings, the database, the password
hasher, the login limiter, the revocation list, the TOTP secret box, the mailer, the mock CA,
the clock, identity events, signed mail links and token sets. Built once by
`IdentityProvider`."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.idp import links, refresh_tokens, revocation_list
from gateway.idp.errors import InvalidLink
from gateway.idp.events import IdentityEvents
from gateway.idp.jpki import MockCA
from gateway.idp.login_limits import LoginLimiter
from gateway.idp.passwords import Passwords
from gateway.idp.revocation_bus import RevocationBus
from gateway.idp.tables import Account
from gateway.idp.totp import SecretBox
from gateway.runtime import GatewayRuntime
from gateway.settings import GatewaySettings
from gateway.tokens import issue_access_token
from services.kit.assurance import methods_of
from services.kit.auth import Principal
from services.kit.db import Database
from services.kit.errors import AppError, ServiceUnavailable
from services.kit.ids import new_id
from services.kit.mailer import Mailer
from services.kit.revocation import RevocationFeed, RevocationKind

log = logging.getLogger("cityhall.gateway.idp")

ENROL_SCOPE = "totp:enroll"


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    expires_in: int
    scope: str
    acr: str | None = None
    refresh_token: str | None = None
    principal: Principal | None = field(default=None, compare=False)
    """Whom the token speaks for: the access record's actor (never in the body)."""

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.acr is not None:
            body["acr"] = self.acr
            body["amr"] = methods_of(self.acr)
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


class IdpContext:
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
        self.revocations: RevocationFeed | None = None
        self.bus = RevocationBus(settings.redis_url)
        self._last_purge = 0.0
        self.box = SecretBox(settings.idp_secret.get_secret_value())
        self.events = IdentityEvents(runtime.clock)
        self.mailer: Mailer | None = None
        self.ca: MockCA | None = None
        self._db: Database | None = None

    async def open(self, db: Database) -> None:
        self._db = db
        self.ca = await asyncio.to_thread(MockCA.load_or_create, self.settings.jpki_path)
        self.mailer = Mailer(self.settings.smtp_host, self.settings.smtp_port, pool_size=2)
        feed = RevocationFeed(
            revocation_list.database_source(db),
            interval=self.settings.revocation_poll_seconds,
            name="gateway",
        )
        await feed.poll()  # before the first request is verified
        feed.start()
        self.revocations = feed
        await self.bus.start(feed.wake)

    async def close(self) -> None:
        await self.bus.stop()
        if self.revocations is not None:
            await self.revocations.stop()
        if self.mailer is not None:
            await self.mailer.close()
        self._db = None

    async def is_revoked(self, principal: Principal) -> bool:
        """The gateway verifier's `is_revoked` hook."""
        feed = self.revocations
        return feed is not None and await feed.is_revoked(principal)

    # --- revocation ----------------------------------------------------------------------

    async def revoke(
        self,
        session: AsyncSession,
        kind: RevocationKind,
        value: str,
        *,
        expires_at: float | None = None,
        issued_before: float | None = None,
    ) -> None:
        """Adds an entry to the revocation list in the caller's unit of work; call
        `revoked()` once it has committed. Without `expires_at` the entry lasts as long as
        an access token issued now."""
        if expires_at is None:
            expires_at = time.time() + self.settings.access_token_ttl_seconds + 60
        await revocation_list.add(
            session, kind, value, expires_at=expires_at, issued_before=issued_before
        )
        if time.time() - self._last_purge > 300:
            self._last_purge = time.time()
            await revocation_list.purge(session)

    async def revoked(self) -> None:
        """After a revocation committed: this replica applies it now, the others when woken
        by Redis (when configured) or at their next poll."""
        if self.revocations is not None:
            await self.revocations.poll()
        await self.bus.publish()

    @property
    def db(self) -> Database:
        if self._db is None:
            raise ServiceUnavailable("the gateway is starting")
        return self._db

    def now(self) -> datetime:
        """The gateway clock (simulation offset included): link, nonce and card validity."""
        return self.runtime.clock.now()

    def require_ca(self) -> MockCA:
        if self.ca is None:
            raise ServiceUnavailable("the gateway is starting")
        return self.ca

    # --- tokens ------------------------------------------------------------------------

    def access_token(
        self, account: Account, acr: str, session_id: str | None = None
    ) -> tuple[str, list[str], list[str]]:
        """A signed access token for `account` and the scopes it carries. A staff account
        without a confirmed second factor gets only the enrolment scope and no roles."""
        roles = list(account.roles) if account.kind == "staff" else []
        granted: list[str] = []
        if account.kind == "staff" and account.totp_confirmed_at is None:
            roles, granted = [], [ENROL_SCOPE]
        settings = self.settings
        token = issue_access_token(
            self.runtime.require_keystore(),
            sub=account.id,
            kind=account.kind,  # type: ignore[arg-type]  # an AccountKind
            roles=roles,
            scopes=granted,
            department=account.department,
            acr=acr,
            session_id=session_id,
            ttl=settings.access_token_ttl_seconds,
            issuer=settings.issuer,
            audience=settings.audience,
            now=self._issue_time(account.id),
        )
        return token, roles, granted

    def _issue_time(self, account_id: str) -> datetime:
        """Now on the wall clock (see gateway.tokens), or the second after the account's
        tokens were last revoked: `iat` counts whole seconds, and a token issued in the same
        second as a disabling or a role change would be refused with the old ones (the
        verifiers' 5 s leeway admits the `nbf` a fraction of a second ahead)."""
        now = datetime.now(UTC)
        cutoff = (
            self.revocations.revocations.issued_before(account_id) if self.revocations else None
        )
        if cutoff is not None and int(now.timestamp()) <= cutoff:
            return datetime.fromtimestamp(math.floor(cutoff) + 1, UTC)
        return now

    async def token_set(
        self,
        session: AsyncSession,
        account: Account,
        acr: str,
        family_id: str | None = None,
    ) -> TokenSet:
        """An access token and the next refresh token of `family_id` (a new session when
        None), the refresh token written in the caller's unit of work."""
        family_id = family_id or new_id("rtf")
        access, roles, scopes = self.access_token(account, acr, family_id)
        refresh = await refresh_tokens.issue(
            session,
            account_id=account.id,
            acr=acr,
            now=self.now(),
            ttl=timedelta(seconds=self.settings.refresh_token_ttl_seconds),
            family_id=family_id,
        )
        principal = Principal(
            sub=account.id,
            kind=account.kind,  # type: ignore[arg-type]  # an AccountKind
            roles=frozenset(roles),
            scopes=frozenset(scopes),
            department=account.department,
            acr=acr,
            amr=tuple(methods_of(acr)),
        )
        return TokenSet(
            access,
            self.settings.access_token_ttl_seconds,
            " ".join(scopes),
            acr,
            refresh,
            principal,
        )

    async def new_token_set(
        self, account: Account, acr: str, family_id: str | None = None
    ) -> TokenSet:
        async with self.db.session() as session:
            return await self.token_set(session, account, acr, family_id)

    # --- mail ----------------------------------------------------------------------------

    def mail_link(
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

    def link_claims(
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

    async def send(self, message: EmailMessage) -> bool:
        if self.mailer is None:
            raise ServiceUnavailable("the gateway is starting")
        result = await self.mailer.send(message)
        if not result.ok:
            log.warning(
                "mail to %s not delivered: %s %s", message["To"], result.outcome, result.detail
            )
        return result.ok
