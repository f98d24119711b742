"""The personal links every mail carries. Manage and unsubscribe links do not expire (a mail
may be read months later) but die when the subscription's `link_version` is bumped;
confirmation links are signed JWTs that expire."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"cityhall-alert-mail-links:" + secret.encode()).digest()


def _mac(secret: str, purpose: str, subject: str, version: int) -> str:
    digest = hmac.new(_key(secret), f"{purpose}:{subject}:{version}".encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def personal_token(secret: str, purpose: str, subject: str, version: int) -> str:
    """`<subject>.<version>.<mac>`: cheap enough to mint for 64,000 recipients."""
    return f"{subject}.{version}.{_mac(secret, purpose, subject, version)}"


def read_personal_token(secret: str, purpose: str, token: str) -> tuple[str, int] | None:
    """(subject, version) of a genuine token, else None. The caller compares the version."""
    if not token.isascii():  # hmac.compare_digest refuses non-ASCII text with a TypeError
        return None
    subject, _, rest = token.partition(".")
    version_text, _, mac = rest.partition(".")
    if not subject or not version_text.isdigit():
        return None
    if len(version_text) > 9:
        return None
    version = int(version_text)
    if not hmac.compare_digest(mac, _mac(secret, purpose, subject, version)):
        return None
    return subject, version


def manage_url(public_url: str, token: str) -> str:
    return f"{public_url}/v1/subscriptions/manage?token={quote(token)}"


def unsubscribe_url(public_url: str, token: str) -> str:
    """The RFC 8058 one-click target (POST) and the page a person opens (GET)."""
    return f"{public_url}/v1/subscriptions/unsubscribe?token={quote(token)}"
