"""Request and response models of the /auth routes (the token endpoint's are in
gateway.routes.oauth). Field rules here are shape only; the IdP's flows apply the policies
(e-mail syntax, password policy, staff roles)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.idp.accounts import STAFF_ROLES
from gateway.idp.tables import Account
from services.kit.assurance import Acr

Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Strict):
    kind: Literal["citizen", "business"] = "citizen"
    email: str = Field(max_length=254)
    password: str | None = Field(None, max_length=256)
    display_name: Text


class Accepted(BaseModel):
    status: str
    message: str


class AccountView(BaseModel):
    id: str
    kind: str
    email: str | None
    email_verified: bool
    display_name: str
    department: str | None
    roles: list[str]
    status: str
    totp_enrolled: bool
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return cls(
            id=account.id,
            kind=account.kind,
            email=account.email,
            email_verified=account.email_verified_at is not None,
            display_name=account.display_name,
            department=account.department,
            roles=list(account.roles),
            status=account.status,
            totp_enrolled=account.totp_confirmed_at is not None,
            created_at=account.created_at,
        )


class Identity(BaseModel):
    """`GET /auth/me`: the token's claims as the services see them, and the account behind
    it (none for a service client)."""

    sub: str
    kind: str = Field(description="citizen, business, staff or service")
    acr: str | None = Field(None, description="assurance level: email, password, mfa or jpki")
    amr: list[str] = Field(description="how the caller authenticated (RFC 8176)")
    roles: list[str]
    scopes: list[str]
    department: str | None = None
    account: AccountView | None = Field(None, description="the account; absent for service clients")


class EmailLoginRequest(_Strict):
    email: str = Field(max_length=254)


class VerifyEmailRequest(_Strict):
    token: str = Field(min_length=1, max_length=2048)


class SetPasswordRequest(_Strict):
    token: str = Field(min_length=1, max_length=2048)
    password: str = Field(max_length=256)


class LogoutRequest(_Strict):
    refresh_token: str | None = Field(None, max_length=1024)


class TotpEnrolment(BaseModel):
    otpauth_uri: str
    qr_code: str = Field(description="SVG image as a data: URI")
    secret: str


class TotpConfirm(_Strict):
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class StaffCreate(_Strict):
    email: str = Field(max_length=254)
    display_name: Text
    department: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
    roles: list[str] = Field(min_length=1, max_length=len(STAFF_ROLES))
    initial_password: str | None = Field(None, max_length=256)


class RolesUpdate(_Strict):
    roles: list[str] = Field(min_length=1, max_length=len(STAFF_ROLES))


class StaffCreated(AccountView):
    set_password_mail_sent: bool


class Challenge(BaseModel):
    nonce: str
    expires_at: datetime


class JpkiTokenRequest(_Strict):
    nonce: str = Field(min_length=1, max_length=64)
    certificate: str = Field(min_length=1, max_length=16_384, description="PEM")
    signature: str = Field(
        min_length=1, max_length=1024, description="base64url ECDSA-SHA256 over the nonce"
    )


class RevocationCreate(_Strict):
    serial: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-fA-F]+$")
    reason: str = Field("unspecified", min_length=1, max_length=200)


class RevocationView(BaseModel):
    serial: str
    reason: str
    revoked_by: str
    revoked_at: datetime


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 scheme name
    expires_in: int
    scope: str
    acr: Acr | None = Field(
        None,
        description="user grants: email, password, mfa (staff: password and one-time code) or jpki",
    )
    amr: list[str] | None = Field(
        None, description="user grants: the RFC 8176 methods, e.g. pwd and otp for staff"
    )
    refresh_token: str | None = Field(None, description="user grants: rotating, single use")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9...",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "scope": "",
                    "acr": "mfa",
                    "amr": ["pwd", "otp"],
                    "refresh_token": "rt_...",
                }
            ]
        }
    )
