"""The identity provider's tables (gateway Alembic history: revisions gateway_0003_idp,
gateway_0004_email_login and gateway_0005_revocations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Float, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.kit.sqltypes import JSONType, UTCDateTime


class Account(SQLModel, table=True):
    """A citizen, business or staff account. `credential_version` grows whenever the password
    changes, which voids every one-time set-password link issued before."""

    __tablename__ = "idp_accounts"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=16)
    email: str | None = Field(default=None, max_length=254, unique=True)
    email_verified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    display_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=255)
    credential_version: int = 0
    department: str | None = Field(default=None, max_length=32)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    status: str = Field(default="active", max_length=16)
    totp_secret: str | None = Field(default=None, max_length=512)
    totp_confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    totp_last_step: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RefreshToken(SQLModel, table=True):
    """One refresh token, stored as its SHA-256. Rotation marks it used and issues the next one
    of the same family; a used or revoked token presented again revokes the whole family."""

    __tablename__ = "idp_refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    family_id: str = Field(max_length=40, index=True)
    account_id: str = Field(max_length=40, index=True)
    acr: str = Field(max_length=16)
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class RevocationRecord(SQLModel, table=True):
    """One entry of the revocation list every verifier applies (services.kit.revocation):
    a token (`jti`), a session (`sid`) or an account's tokens issued at or before
    `issued_before` (`sub`). Kept until `expires_at`, when no token it refuses is valid."""

    __tablename__ = "idp_revocations"

    seq: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    value: str = Field(max_length=64)
    issued_before: float | None = Field(default=None, sa_column=Column(Float()))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class JpkiCertificate(SQLModel, table=True):
    """A card certificate linked to the account it logs in."""

    __tablename__ = "idp_jpki_certificates"
    __table_args__ = (UniqueConstraint("issuer", "serial", name="uq_idp_jpki_cert"),)

    id: str = Field(primary_key=True, max_length=40)
    issuer: str = Field(max_length=500)
    serial: str = Field(max_length=64)
    subject: str = Field(max_length=500)
    account_id: str = Field(max_length=40, index=True)
    not_after: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    linked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class JpkiRevocation(SQLModel, table=True):
    """The mock CA's revocation list: a serial listed here is refused."""

    __tablename__ = "idp_jpki_revocations"

    serial: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=200)
    revoked_by: str = Field(max_length=255)
    revoked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class JpkiNonce(SQLModel, table=True):
    """A login challenge: single use, short-lived."""

    __tablename__ = "idp_jpki_nonces"

    nonce: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class EmailLoginLink(SQLModel, table=True):
    """A mailed かんたん login link (acr=email): single use, short-lived. The row is made when
    the link is mailed; redeeming it claims the row, so the same link never works twice."""

    __tablename__ = "idp_email_login_links"

    jti: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(max_length=40, index=True)
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
