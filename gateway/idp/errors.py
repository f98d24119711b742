"""The identity provider's problems. Token-endpoint failures carry RFC 6749 `error` codes."""

from __future__ import annotations

from gateway.oauth_errors import OAuthError
from services.kit.errors import AppError


class InvalidGrant(OAuthError):
    slug = "oauth-invalid-grant"
    title = "Invalid grant"
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    slug = "oauth-unauthorized-client"
    title = "Client not allowed this grant"
    error = "unauthorized_client"


class RefreshTokenReused(InvalidGrant):
    slug = "refresh-token-reused"
    title = "Refresh token reused; the session was revoked"


class AccountDisabled(InvalidGrant):
    slug = "account-disabled"
    title = "Account disabled"


class EmailNotVerified(InvalidGrant):
    slug = "email-not-verified"
    title = "E-mail address not verified"


class TotpRequired(InvalidGrant):
    slug = "totp-required"
    title = "One-time code required"


class EmailLinkRefused(InvalidGrant):
    slug = "email-link-refused"
    title = "Login link invalid, expired or used already"


class InvalidLink(AppError):
    status = 400
    slug = "invalid-link"
    title = "Invalid or expired link"


class JpkiRefused(InvalidGrant):
    """Base of the mock JPKI login refusals; each has its own problem type."""

    slug = "jpki-refused"
    title = "JPKI login refused"


class JpkiBadCertificate(JpkiRefused):
    slug = "jpki-bad-certificate"
    title = "The certificate cannot be read"


class JpkiForeignCa(JpkiRefused):
    slug = "jpki-foreign-ca"
    title = "The certificate was not issued by the city's JPKI CA"


class JpkiCertificateExpired(JpkiRefused):
    slug = "jpki-certificate-expired"
    title = "The certificate is expired or not yet valid"


class JpkiCertificateRevoked(JpkiRefused):
    slug = "jpki-certificate-revoked"
    title = "The certificate has been revoked"


class JpkiBadSignature(JpkiRefused):
    slug = "jpki-bad-signature"
    title = "The signature over the challenge does not verify"


class JpkiNonceInvalid(JpkiRefused):
    slug = "jpki-nonce-invalid"
    title = "The challenge is unknown, expired or already used"
