"""Test card numbers and what the mock processor does with them (after Stripe's test cards).

    number               brand       outcome
    4242424242424242     visa        succeeded
    5555555555554444     mastercard  succeeded
    3566002020360505     jcb         succeeded
    378282246310005      amex        succeeded
    4000000000000002     visa        declined, generic_decline
    4000000000009995     visa        declined, insufficient_funds
    3530111333300000     jcb         declined, insufficient_funds
    4000000000000119     visa        network_error: the processor failed; retry later

Any other number that passes the Luhn check succeeds; one that fails it is refused as
invalid input (422 on `card.number`), like a form would refuse a mistyped number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.kit.errors import UnprocessableContent

FIELD = "card.number"


class Brand(StrEnum):
    VISA = "visa"
    MASTERCARD = "mastercard"
    JCB = "jcb"
    AMEX = "amex"


class OutcomeKind(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    NETWORK_ERROR = "network_error"


@dataclass(frozen=True, slots=True)
class CardOutcome:
    kind: OutcomeKind
    brand: Brand | None
    last4: str
    decline_code: str | None = None
    message_ja: str | None = None

    @property
    def retryable(self) -> bool:
        """Only a processor failure is worth retrying with the same card."""
        return self.kind is OutcomeKind.NETWORK_ERROR


_GENERIC = ("generic_decline", "カードが承認されませんでした。別のカードをお試しください。")
_FUNDS = ("insufficient_funds", "ご利用可能額が不足しているため、カードが承認されませんでした。")
_NETWORK = "カード会社との通信に失敗しました。しばらくしてからもう一度お試しください。"

_DECLINES: dict[str, tuple[str, str]] = {
    "4000000000000002": _GENERIC,
    "4000000000009995": _FUNDS,
    "3530111333300000": _FUNDS,
}
_NETWORK_ERRORS = frozenset({"4000000000000119"})


def normalize_number(raw: str) -> str:
    """Drop the spaces and hyphens people type; the rest must be 12 to 19 ASCII digits."""
    number = raw.replace(" ", "").replace("-", "")
    if not (number.isascii() and number.isdigit()):
        raise UnprocessableContent("a card number contains only digits", field=FIELD)
    if not 12 <= len(number) <= 19:
        raise UnprocessableContent("a card number has 12 to 19 digits", field=FIELD)
    return number


def luhn_valid(number: str) -> bool:
    if not (number.isascii() and number.isdigit()) or len(number) < 2:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> Brand | None:
    if number.startswith(("34", "37")) and len(number) == 15:
        return Brand.AMEX
    if number.startswith("4"):
        return Brand.VISA
    prefix2, prefix4 = int(number[:2]), int(number[:4])
    if 51 <= prefix2 <= 55 or 2221 <= prefix4 <= 2720:
        return Brand.MASTERCARD
    if 3528 <= prefix4 <= 3589:
        return Brand.JCB
    return None


def outcome_for(raw_number: str) -> CardOutcome:
    number = normalize_number(raw_number)
    if not luhn_valid(number):
        raise UnprocessableContent("the card number is not valid (Luhn check)", field=FIELD)
    brand, last4 = brand_of(number), number[-4:]
    if number in _NETWORK_ERRORS:
        return CardOutcome(OutcomeKind.NETWORK_ERROR, brand, last4, message_ja=_NETWORK)
    if number in _DECLINES:
        code, message = _DECLINES[number]
        return CardOutcome(OutcomeKind.DECLINED, brand, last4, code, message)
    return CardOutcome(OutcomeKind.SUCCEEDED, brand, last4)
