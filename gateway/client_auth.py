"""OAuth2 client authentication (RFC 6749 §2.3.1): HTTP Basic or form credentials.

Secrets are compared in constant time, and an unknown client id costs the same comparison as
a known one, so response timing tells nothing about which client ids exist.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from gateway.oauth_errors import InvalidClient, InvalidRequest
from gateway.settings import ServiceClientConfig

_DUMMY_SECRET = b"\x00" * 48


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str


def _basic_credentials(header: str) -> ClientCredentials:
    try:
        decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return ClientCredentials(unquote_plus(client_id), unquote_plus(secret))


def client_credentials(authorization: str | None, form: Mapping[str, str]) -> ClientCredentials:
    """The credentials of the request: exactly one method may be used."""
    basic = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("authenticate the client with HTTP Basic or form credentials")
        basic = _basic_credentials(value)
    posted = "client_id" in form or "client_secret" in form
    if basic is not None and posted:
        raise InvalidRequest("use one client authentication method, not both")
    if basic is not None:
        return basic
    if posted:
        if "client_secret" not in form:
            raise InvalidClient("client_secret is missing")
        return ClientCredentials(form.get("client_id", ""), form["client_secret"])
    raise InvalidClient("client authentication is required")


def authenticate_client(
    credentials: ClientCredentials, clients: Mapping[str, ServiceClientConfig]
) -> ServiceClientConfig:
    client = clients.get(credentials.client_id)
    expected = client.secret.get_secret_value().encode() if client else _DUMMY_SECRET
    matches = hmac.compare_digest(expected, credentials.client_secret.encode())
    if client is None or not matches:
        raise InvalidClient("unknown client or wrong secret")
    return client
