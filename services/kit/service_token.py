"""A service's own access token from the gateway (OAuth2 client_credentials), cached."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import httpx

from services.kit.errors import ServiceUnavailable


class ServiceTokenProvider:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        refresh_margin: float = 60.0,
    ) -> None:
        self.client = client
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.refresh_margin = refresh_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._token and time.monotonic() < self._expires_at - self.refresh_margin:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() < self._expires_at - self.refresh_margin:
                return self._token
            form = {"grant_type": "client_credentials"}
            if self.scope:
                form["scope"] = self.scope
            try:
                response = await self.client.post(
                    self.token_url, data=form, auth=(self.client_id, self.client_secret)
                )
                response.raise_for_status()
                body = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise ServiceUnavailable("cannot obtain a service token from the gateway") from exc
            self._token = str(body["access_token"])
            self._expires_at = time.monotonic() + float(body.get("expires_in", 300))
            return self._token

    def invalidate(self) -> None:
        self._token = None

    def auth(self) -> httpx.Auth:
        return _BearerAuth(self)


class _BearerAuth(httpx.Auth):
    def __init__(self, provider: ServiceTokenProvider) -> None:
        self.provider = provider

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.provider.token()}"
        response = yield request
        if response.status_code == 401:
            self.provider.invalidate()
            request.headers["Authorization"] = f"Bearer {await self.provider.token()}"
            yield request
