"""Subscription rules: address syntax, the state machine, the confirmation request a signed
link carries, and the per-address throttle of confirmation mails.

    (new)        --confirm-->      active        (double opt-in: only a confirmed link)
    pending      --confirm-->      active
    active       --confirm-->      active        (new preferences from a fresh sign-up)
    suspended    --confirm-->      active
    unsubscribed --confirm-->      active
    active       --suspend-->      suspended     (repeated hard bounces; the delivery worker)
    active       --unsubscribe-->  unsubscribed
    suspended    --unsubscribe-->  unsubscribed
    pending      --unsubscribe-->  unsubscribed
    unsubscribed --unsubscribe-->  unsubscribed  (RFC 8058 one-click is idempotent)
    suspended    --resubscribe-->  active        (from a personal link or the owner's account)
    unsubscribed --resubscribe-->  active
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.kit.errors import Gone, UnprocessableContent
from services.kit.state_machine import StateMachine

LANGUAGES = ("ja", "en", "zh", "ko")
CONFIRM_PURPOSE = "subscription-confirm"
MANAGE_PURPOSE = "manage"
UNSUBSCRIBE_PURPOSE = "unsubscribe"
LINK_NAMESPACE = "alert_mail"
MAX_CHOICES = 50


class SubscriptionState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    UNSUBSCRIBED = "unsubscribed"


class Transition(StrEnum):
    CONFIRM = "confirm"
    SUSPEND = "suspend"
    UNSUBSCRIBE = "unsubscribe"
    RESUBSCRIBE = "resubscribe"


_S, _T = SubscriptionState, Transition

SUBSCRIPTIONS: StateMachine[SubscriptionState, Transition] = StateMachine(
    {
        (_S.PENDING, _T.CONFIRM): _S.ACTIVE,
        (_S.ACTIVE, _T.CONFIRM): _S.ACTIVE,
        (_S.SUSPENDED, _T.CONFIRM): _S.ACTIVE,
        (_S.UNSUBSCRIBED, _T.CONFIRM): _S.ACTIVE,
        (_S.ACTIVE, _T.SUSPEND): _S.SUSPENDED,
        (_S.ACTIVE, _T.UNSUBSCRIBE): _S.UNSUBSCRIBED,
        (_S.SUSPENDED, _T.UNSUBSCRIBE): _S.UNSUBSCRIBED,
        (_S.PENDING, _T.UNSUBSCRIBE): _S.UNSUBSCRIBED,
        (_S.UNSUBSCRIBED, _T.UNSUBSCRIBE): _S.UNSUBSCRIBED,
        (_S.SUSPENDED, _T.RESUBSCRIBE): _S.ACTIVE,
        (_S.UNSUBSCRIBED, _T.RESUBSCRIBE): _S.ACTIVE,
    }
)


# --- links ----------------------------------------------------------------------------------


class LinkInvalid(UnprocessableContent):
    slug = "invalid-link"
    title = "The link is not valid"

    def __init__(self, detail: str = "the link is not valid or no longer works") -> None:
        super().__init__(detail, field="token")


class LinkExpired(Gone):
    slug = "link-expired"
    title = "The link has expired"

    def __init__(self) -> None:
        super().__init__(
            "the confirmation link has expired; sign up again to get a new one",
            errors=[{"field": "token", "message": "the link has expired"}],
        )


@dataclass(frozen=True, slots=True)
class ConfirmationRequest:
    """What a sign-up asked for; it travels inside the signed link, never stored before."""

    email: str
    categories: tuple[str, ...]
    districts: tuple[str, ...]
    language: str
    plain_japanese: bool
    owner: str | None = None
    jti: str = ""

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "cat": list(self.categories),
            "dst": list(self.districts),
            "lang": self.language,
            "plain": self.plain_japanese,
            "jti": self.jti or uuid.uuid4().hex,
        }
        if self.owner is not None:
            claims["owner"] = self.owner
        return claims

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> ConfirmationRequest:
        try:
            categories = tuple(str(c) for c in claims["cat"])
            districts = tuple(str(d) for d in claims["dst"])
            language = str(claims["lang"])
            owner = claims.get("owner")
            request = cls(
                email=str(claims["sub"]),
                categories=categories,
                districts=districts,
                language=language if language in LANGUAGES else "ja",
                plain_japanese=bool(claims["plain"]),
                owner=str(owner) if owner is not None else None,
                jti=str(claims["jti"]),
            )
        except (KeyError, TypeError) as exc:
            raise LinkInvalid() from exc
        if not request.categories:
            raise LinkInvalid()
        return request


# --- input ----------------------------------------------------------------------------------


def address_digest(secret: str, email: str) -> str:
    """A keyed digest of the address (case-folded) for the throttle."""
    key = hashlib.sha256(b"cityhall-alert-mail-throttle:" + secret.encode()).digest()
    return hmac.new(key, email.lower().encode(), "sha256").hexdigest()


def checked_codes(
    requested: Sequence[str], known: Iterable[str], field: str, *, required: bool
) -> tuple[str, ...]:
    """Known codes, duplicates dropped in order; 422 naming `field[i]` for an unknown one."""
    known_codes = set(known)
    chosen: list[str] = []
    for index, code in enumerate(requested):
        if code not in known_codes:
            raise UnprocessableContent(f"unknown code {code!r}", field=f"{field}[{index}]")
        if code not in chosen:
            chosen.append(code)
    if required and not chosen:
        raise UnprocessableContent(f"choose at least one of the {field}", field=field)
    if len(chosen) > MAX_CHOICES:
        raise UnprocessableContent(f"choose at most {MAX_CHOICES} {field}", field=field)
    return tuple(chosen)


def may_send_confirmation(sent_in_last_hour: int, limit: int) -> bool:
    """A mail-bomb guard: beyond `limit` mails an hour the request is accepted and dropped."""
    return sent_in_last_hour < limit
