"""Logging in as a demo identity, the way a client does: the password grant (staff add the
current TOTP code of their fixed secret), the client credentials grant for `demo-app`.

A staff code works once per account and 30 s, so each identity logs in once per session and
its tokens are kept: a client reuses the access token, refreshes it (rotating refresh token)
near its expiry, and logs in again when the gateway answers 401 (a test logged it out)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

REFRESH_BEFORE_SECONDS = 60
TOKEN_PATH = "/auth/token"  # noqa: S105 - a path, not a secret


class LoginFailed(AssertionError):
    """The gateway refused a demo login (the answer is in the message)."""


@dataclass(slots=True)
class TokenSet:
    access: str
    refresh: str | None
    expires_at: float

    @property
    def fresh(self) -> bool:
        return self.expires_at - time.monotonic() > REFRESH_BEFORE_SECONDS


def _token_set(response: httpx.Response, who: str) -> TokenSet:
    if response.status_code != 200:
        raise LoginFailed(f"logging in as {who}: {response.status_code} {response.text}")
    body = response.json()
    return TokenSet(
        body["access_token"], body.get("refresh_token"), time.monotonic() + body["expires_in"]
    )


def _totp_code(secret: str, at: datetime) -> str:
    import pyotp

    return str(pyotp.TOTP(secret).at(at))


class Logins:
    """The session's tokens, one set per identity (and scope set, for the demo client)."""

    def __init__(self, gateway_url: str, demo_client_secret: str) -> None:
        self.gateway_url = gateway_url
        self.demo_client_secret = demo_client_secret
        self._tokens: dict[tuple[str, tuple[str, ...]], TokenSet] = {}

    async def token(
        self,
        http: httpx.AsyncClient,
        who: str,
        scopes: Sequence[str] = (),
        *,
        again: bool = False,
    ) -> str:
        """An access token of `who` (a demo user, or `demo-app`); `again`: the last one was
        refused, log in anew."""
        key = (who, tuple(sorted(scopes)))
        held = self._tokens.get(key)
        if held is not None and not again and held.fresh:
            return held.access
        tokens: TokenSet | None = None
        if held is not None and not again and held.refresh is not None:
            tokens = await self._refresh(http, held.refresh)
        if tokens is None:
            tokens = await self._log_in(http, who, key[1])
        self._tokens[key] = tokens
        return tokens.access

    async def _refresh(self, http: httpx.AsyncClient, refresh: str) -> TokenSet | None:
        answer = await http.post(
            f"{self.gateway_url}{TOKEN_PATH}",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
        )
        return _token_set(answer, "refresh") if answer.status_code == 200 else None

    async def _log_in(self, http: httpx.AsyncClient, who: str, scopes: tuple[str, ...]) -> TokenSet:
        from deploy.demo_identities import identity
        from gateway.settings import DEMO_CLIENT_ID, DEMO_CLIENT_SCOPES

        url = f"{self.gateway_url}{TOKEN_PATH}"
        if who == DEMO_CLIENT_ID:
            scope = " ".join(scopes or DEMO_CLIENT_SCOPES)
            answer = await http.post(
                url,
                data={"grant_type": "client_credentials", "scope": scope},
                auth=(DEMO_CLIENT_ID, self.demo_client_secret),
            )
            return _token_set(answer, who)
        account = identity(who).account
        form = {"grant_type": "password", "username": account.email, "password": account.password}
        if account.totp_secret is None:
            return _token_set(await http.post(url, data=form), who)
        answer = await http.post(
            url, data={**form, "totp": _totp_code(account.totp_secret, datetime.now(UTC))}
        )
        next_code_at = _next_code_at(answer)
        if next_code_at is not None:
            # This 30 s step's code was used (by an earlier session, or `cityhall totp`): the
            # next step's code is accepted already (one step of drift either way).
            code = _totp_code(account.totp_secret, next_code_at)
            answer = await http.post(url, data={**form, "totp": code})
        return _token_set(answer, who)


def _next_code_at(answer: httpx.Response) -> datetime | None:
    if answer.status_code == 200:
        return None
    try:
        problem: dict[str, Any] = answer.json()
    except ValueError:
        return None
    moment = problem.get("next_code_at")
    return datetime.fromisoformat(moment) if isinstance(moment, str) else None


class DemoAuth(httpx.Auth):
    """Bearer auth as a demo identity, logging in again once when a token is refused."""

    def __init__(
        self, logins: Logins, http: httpx.AsyncClient, who: str, scopes: Sequence[str] = ()
    ) -> None:
        self.logins = logins
        self.http = http
        self.who = who
        self.scopes = tuple(scopes)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.logins.token(self.http, self.who, self.scopes)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = await self.logins.token(self.http, self.who, self.scopes, again=True)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request
