"""TOTP second factor (RFC 6238 via pyotp): secrets encrypted at rest, QR codes via segno.

A code is accepted within ±1 time step, and a time step is accepted once per account
(`last_step`), so an observed code cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
from cryptography.fernet import Fernet, InvalidToken

ISSUER_NAME = "cityhall"
VALID_WINDOW = 1
STEP_SECONDS = 30  # RFC 6238's default, pyotp's interval


class SecretBox:
    """Fernet encryption of TOTP secrets, keyed from the IdP secret."""

    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(b"cityhall-totp:" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken as exc:
            raise ValueError("the TOTP secret cannot be decrypted (IdP secret changed?)") from exc


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg_data_uri: str


def new_enrolment(account_label: str) -> Enrolment:
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=account_label, issuer_name=ISSUER_NAME)
    import segno  # at the first enrolment, not with the gateway

    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Enrolment(secret, uri, f"data:image/svg+xml;base64,{data}")


def used_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step of `code` when it is a real code (within the window) of a step already
    used (`last_step` or earlier): a replay, or a login in the same 30 s as the last one."""
    if last_step is None:
        return None
    step = matching_step(secret, code, now, None)
    return step if step is not None and step <= last_step else None


def next_code_at(last_step: int) -> datetime:
    """When the first code newer than `last_step` becomes current."""
    return datetime.fromtimestamp((last_step + 1) * STEP_SECONDS, UTC)


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (within the window, newer than `last_step`), or None."""
    code = code.strip()
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
