"""Service clients: the client_credentials grant (RFC 6749 §4.4). Clients authenticate with
HTTP Basic or form credentials (gateway.client_auth) and get the scopes they ask for, within
those configured for them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from gateway.client_auth import ClientCredentials, authenticate_client, client_credentials
from gateway.idp.context import IdpContext, TokenSet
from gateway.idp.errors import UnauthorizedClient
from gateway.oauth_errors import InvalidRequest, InvalidScope, UnsupportedGrantType
from gateway.tokens import issue_access_token
from services.kit.auth import Principal


class ClientFlow:
    def __init__(self, ctx: IdpContext) -> None:
        self.ctx = ctx

    def refuse_user_grant(
        self, grant_type: str, authorization: str | None, form: Mapping[str, str]
    ) -> None:
        """User grants are for public clients: a request that authenticates as a service
        client is refused (after checking its credentials, so a wrong secret says so)."""
        if authorization or "client_secret" in form:
            self._client(client_credentials(authorization, form))
            raise UnauthorizedClient(f"service clients may not use grant_type {grant_type}")

    def _client(self, credentials: ClientCredentials) -> frozenset[str]:
        client = authenticate_client(credentials, self.ctx.settings.service_clients)
        return frozenset(client.scopes)

    def grant(self, authorization: str | None, form: Mapping[str, str]) -> TokenSet:
        settings = self.ctx.settings
        credentials = client_credentials(authorization, form)
        allowed = self._client(credentials)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise InvalidRequest("grant_type is required")
        if grant_type != "client_credentials":
            raise UnsupportedGrantType(f"grant_type {grant_type} is not supported")
        requested = set(form["scope"].split()) if form.get("scope", "").strip() else allowed
        if not requested <= allowed:
            unknown = " ".join(sorted(requested - allowed))
            raise InvalidScope(f"the client may not request: {unknown}")
        ttl = settings.access_token_ttl_seconds
        access_token = issue_access_token(
            self.ctx.runtime.require_keystore(),
            sub=credentials.client_id,
            kind="service",
            scopes=requested,
            ttl=ttl,
            issuer=settings.issuer,
            audience=settings.audience,
            now=datetime.now(UTC),
        )
        principal = Principal(
            sub=credentials.client_id, kind="service", scopes=frozenset(requested)
        )
        return TokenSet(access_token, ttl, " ".join(sorted(requested)), principal=principal)
