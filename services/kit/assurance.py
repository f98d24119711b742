"""How a person logged in: the `acr` level a service can require, and the RFC 8176 `amr`
methods each level stands for. The gateway's IdP issues both (from this table only), the
services' auth dependencies check `acr` (`kit.auth`), and refresh keeps a session's level.

Levels, lowest first (roughly NIST SP 800-63B's assurance levels):

- `email`: a single-use link mailed to a verified address (かんたんログイン).
- `password`: a password alone (citizens and business accounts; staff before TOTP).
- `mfa`: a password and a one-time code from the staff member's authenticator (TOTP).
- `jpki`: the My Number card: a signature by the card's hardware key, checked against the
  mock JPKI CA. It ranks above `mfa` (a government-issued hardware credential, as the
  national guidelines rank it) and links only to citizen and business accounts.

No value of the RFC 8176 registry names a mailed link, so `email` uses an unregistered one
beside the registry's channel names (`sms`, `tel`), as OpenID Connect lets parties agree on.
No FastAPI here: a service's `domain/` may use it.
"""

from __future__ import annotations

from enum import StrEnum


class Acr(StrEnum):
    EMAIL = "email"
    PASSWORD = "password"  # noqa: S105 - an assurance level, not a secret
    MFA = "mfa"
    JPKI = "jpki"


class Amr(StrEnum):
    """RFC 8176 authentication method references (and `email`, see above)."""

    PASSWORD = "pwd"  # noqa: S105 - a method's name
    ONE_TIME_CODE = "otp"
    HARDWARE_KEY = "hwk"
    SMART_CARD = "sc"
    EMAIL_LINK = "email"


ACR_RANK: dict[Acr, int] = {Acr.EMAIL: 1, Acr.PASSWORD: 2, Acr.MFA: 3, Acr.JPKI: 4}

METHODS: dict[Acr, tuple[Amr, ...]] = {
    Acr.EMAIL: (Amr.EMAIL_LINK,),
    Acr.PASSWORD: (Amr.PASSWORD,),
    Acr.MFA: (Amr.PASSWORD, Amr.ONE_TIME_CODE),
    Acr.JPKI: (Amr.HARDWARE_KEY, Amr.SMART_CARD),
}


def rank(acr: str | None) -> int:
    """0 for no level or one this table does not know."""
    try:
        return ACR_RANK[Acr(acr)] if acr else 0
    except ValueError:
        return 0


def meets(acr: str | None, required: Acr) -> bool:
    """Whether a token's `acr` is at least `required`."""
    return rank(acr) >= ACR_RANK[required]


def methods_of(acr: str | None) -> list[str]:
    """The `amr` claim of a token issued at `acr` (empty for none: client_credentials)."""
    try:
        return [m.value for m in METHODS[Acr(acr)]] if acr else []
    except ValueError:
        return []
