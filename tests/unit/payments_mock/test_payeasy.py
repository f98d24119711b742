from __future__ import annotations

import pytest

from services.kit.errors import UnprocessableContent
from services.payments_mock.domain.payeasy import (
    PayEasyNumbers,
    matches,
    numbers_for,
    parse_numbers,
    require_match,
)

SECRET = b"test-secret-for-payeasy"
INSTITUTION = "58091"


def _field(error: UnprocessableContent) -> str:
    field: str = error.extensions["errors"][0]["field"]
    return field


def test_numbers_have_the_payeasy_formats() -> None:
    numbers = numbers_for(INSTITUTION, "pay_1", SECRET)
    assert numbers.institution_number == INSTITUTION
    assert numbers.customer_number.isdigit()
    assert 1 <= len(numbers.customer_number) <= 20
    assert len(numbers.confirmation_number) == 6
    assert numbers.confirmation_number.isdigit()


def test_numbers_are_stable_per_payment_and_differ_between_payments() -> None:
    first = numbers_for(INSTITUTION, "pay_1", SECRET)
    assert numbers_for(INSTITUTION, "pay_1", SECRET) == first
    second = numbers_for(INSTITUTION, "pay_2", SECRET)
    assert second.customer_number != first.customer_number
    assert numbers_for(INSTITUTION, "pay_1", b"other").customer_number != first.customer_number


def test_steps_carry_the_numbers() -> None:
    numbers = numbers_for(INSTITUTION, "pay_1", SECRET)
    atm = numbers.atm_steps()
    assert atm[0] == "ペイジーマークのあるATMで「税金・料金払込み」を選んでください。"
    assert f"「{INSTITUTION}」" in atm[1]
    assert numbers.customer_number in atm[2]
    assert numbers.confirmation_number in atm[3]
    net = " ".join(numbers.net_banking_steps())
    assert numbers.customer_number in net
    assert numbers.confirmation_number in net


def test_what_the_payer_keys_in_is_normalised_and_matched() -> None:
    expected = numbers_for(INSTITUTION, "pay_1", SECRET)
    typed = parse_numbers(
        "５８０９１",
        expected.customer_number[:8] + "-" + expected.customer_number[8:],
        " " + expected.confirmation_number + " ",
    )
    assert typed == expected
    assert matches(expected, typed)
    require_match(expected, typed)


def test_wrong_confirmation_does_not_match() -> None:
    expected = numbers_for(INSTITUTION, "pay_1", SECRET)
    wrong = PayEasyNumbers(
        expected.institution_number,
        expected.customer_number,
        str((int(expected.confirmation_number) + 1) % 1_000_000).zfill(6),
    )
    assert not matches(expected, wrong)
    with pytest.raises(UnprocessableContent) as info:
        require_match(expected, wrong)
    assert _field(info.value) == "confirmation_number"


@pytest.mark.parametrize(
    ("institution", "customer", "confirmation", "field"),
    [
        ("5809", "123", "123456", "institution_number"),
        ("58091", "", "123456", "customer_number"),
        ("58091", "1" * 21, "123456", "customer_number"),
        ("58091", "12a", "123456", "customer_number"),
        ("58091", "123", "12345", "confirmation_number"),
    ],
)
def test_bad_numbers_name_their_field(
    institution: str, customer: str, confirmation: str, field: str
) -> None:
    with pytest.raises(UnprocessableContent) as info:
        parse_numbers(institution, customer, confirmation)
    assert _field(info.value) == field


def test_institution_number_is_validated_when_deriving() -> None:
    with pytest.raises(UnprocessableContent) as info:
        numbers_for("12", "pay_1", SECRET)
    assert _field(info.value) == "institution_number"


def test_length_error_reads_as_a_range() -> None:
    with pytest.raises(UnprocessableContent, match="1 to 20 digits"):
        parse_numbers("58091", "1" * 21, "123456")
