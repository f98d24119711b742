from __future__ import annotations

import pytest

from services.kit.errors import UnprocessableContent
from services.payments_mock.domain import cards
from services.payments_mock.domain.cards import (
    Brand,
    OutcomeKind,
    brand_of,
    luhn_valid,
    outcome_for,
)

TABLE = [
    ("4242424242424242", Brand.VISA, OutcomeKind.SUCCEEDED, None),
    ("5555555555554444", Brand.MASTERCARD, OutcomeKind.SUCCEEDED, None),
    ("3566002020360505", Brand.JCB, OutcomeKind.SUCCEEDED, None),
    ("378282246310005", Brand.AMEX, OutcomeKind.SUCCEEDED, None),
    ("4000000000000002", Brand.VISA, OutcomeKind.DECLINED, "generic_decline"),
    ("4000000000009995", Brand.VISA, OutcomeKind.DECLINED, "insufficient_funds"),
    ("3530111333300000", Brand.JCB, OutcomeKind.DECLINED, "insufficient_funds"),
    ("4000000000000119", Brand.VISA, OutcomeKind.NETWORK_ERROR, None),
]


@pytest.mark.parametrize(("number", "brand", "kind", "decline_code"), TABLE)
def test_documented_test_cards(
    number: str, brand: Brand, kind: OutcomeKind, decline_code: str | None
) -> None:
    assert luhn_valid(number)
    outcome = outcome_for(number)
    assert outcome.brand is brand
    assert outcome.kind is kind
    assert outcome.decline_code == decline_code
    assert outcome.last4 == number[-4:]
    assert outcome.retryable is (kind is OutcomeKind.NETWORK_ERROR)
    if kind is OutcomeKind.SUCCEEDED:
        assert outcome.message_ja is None
    else:
        assert outcome.message_ja is not None
        assert outcome.message_ja.endswith("。")


def test_every_documented_number_is_in_the_module_docstring() -> None:
    assert cards.__doc__ is not None
    for number, brand, kind, _ in TABLE:
        assert number in cards.__doc__
        assert brand.value in cards.__doc__
        assert kind.value in cards.__doc__


def test_unknown_valid_numbers_succeed() -> None:
    outcome = outcome_for("4111 1111 1111 1111")
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.brand is Brand.VISA
    assert outcome_for("6011111111111117").brand is None  # valid Luhn, unsupported brand


@pytest.mark.parametrize(
    "number",
    [
        "4242424242424241",
        "4242-4242-4242-424x",
        "4242",
        "4" * 20,
        "４２４２４２４２４２４２４２４２",
    ],
)
def test_invalid_numbers_are_unprocessable_on_card_number(number: str) -> None:
    with pytest.raises(UnprocessableContent) as info:
        outcome_for(number)
    assert info.value.extensions["errors"][0]["field"] == "card.number"


@pytest.mark.parametrize(
    ("number", "valid"),
    [("79927398713", True), ("79927398710", False), ("0", False), ("", False), ("12a4", False)],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("2221000000000009", Brand.MASTERCARD),
        ("2720990000000007", Brand.MASTERCARD),
        ("3528000000000007", Brand.JCB),
        ("3589000000000003", Brand.JCB),
        ("341111111111111", Brand.AMEX),
        ("3400000000000000", None),
        ("3600000000000008", None),
    ],
)
def test_brand_ranges(number: str, brand: Brand | None) -> None:
    assert brand_of(number) is brand
