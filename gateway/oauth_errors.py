"""OAuth 2.0 token-endpoint errors (RFC 6749 §5.2), rendered as RFC 9457 problems.

The problem body carries the RFC 6749 `error` code (and `error_description`) as extension
members, so OAuth clients and problem-aware clients both understand it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from services.kit.errors import AppError


class OAuthError(AppError):
    status = 400
    error: ClassVar[str] = "invalid_request"

    def __init__(self, detail: str | None = None, /, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.extensions.setdefault("error", self.error)
        self.extensions.setdefault("error_description", self.detail)
        self.headers["Cache-Control"] = "no-store"


class InvalidRequest(OAuthError):
    slug = "oauth-invalid-request"
    title = "Invalid token request"
    error = "invalid_request"


class InvalidClient(OAuthError):
    status = 401
    slug = "oauth-invalid-client"
    title = "Client authentication failed"
    error = "invalid_client"

    def __init__(self, detail: str | None = None, /, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["WWW-Authenticate"] = 'Basic realm="cityhall"'


class UnsupportedGrantType(OAuthError):
    slug = "oauth-unsupported-grant-type"
    title = "Unsupported grant type"
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    slug = "oauth-invalid-scope"
    title = "Invalid scope"
    error = "invalid_scope"
