from __future__ import annotations

from datetime import date

import pytest

from services.kit.errors import UnprocessableContent
from services.payments_mock.domain.gs1_barcode import build
from services.payments_mock.domain.konbini import (
    FORMATS,
    MAX_KONBINI_AMOUNT,
    Chain,
    all_instructions,
    check_amount,
    instructions_for,
    matches,
    parse_chain,
    parse_lookup,
)

SECRET = b"test-secret-for-konbini"
PAYMENT = "pay_01JD0000000000000000000000"


def _field(error: UnprocessableContent) -> str:
    field: str = error.extensions["errors"][0]["field"]
    return field


def test_six_chains_with_their_japanese_names() -> None:
    assert {c.value: FORMATS[c].name_ja for c in Chain} == {
        "seven_eleven": "セブン-イレブン",
        "lawson": "ローソン",
        "familymart": "ファミリーマート",
        "ministop": "ミニストップ",
        "dailyyamazaki": "デイリーヤマザキ",
        "seicomart": "セイコーマート",
    }


@pytest.mark.parametrize("chain", list(Chain))
def test_instructions_have_the_chain_formats(chain: Chain) -> None:
    fmt = FORMATS[chain]
    inst = instructions_for(chain, PAYMENT, SECRET)
    assert inst.payment_code.isdigit()
    assert len(inst.payment_code) == fmt.payment_code_digits
    if fmt.confirmation_digits is None:
        assert inst.confirmation_number is None
    else:
        assert inst.confirmation_number is not None
        assert len(inst.confirmation_number) == fmt.confirmation_digits
        assert any(inst.confirmation_number in step for step in inst.steps)
    assert any(inst.payment_code in step for step in inst.steps)
    assert all("{" not in step for step in inst.steps)
    assert inst.steps[-1].endswith("お受け取りください。")


@pytest.mark.parametrize("chain", list(Chain))
def test_instructions_are_stable_and_secret_dependent(chain: Chain) -> None:
    first = instructions_for(chain, PAYMENT, SECRET)
    assert instructions_for(chain, PAYMENT, SECRET) == first
    other_payment = instructions_for(chain, "pay_01JD0000000000000000000001", SECRET)
    other_secret = instructions_for(chain, PAYMENT, b"another-secret")
    assert other_payment.payment_code != first.payment_code
    assert other_secret.payment_code != first.payment_code


def test_familymart_first_number_is_the_billers_company_code() -> None:
    a = instructions_for(Chain.FAMILYMART, PAYMENT, SECRET)
    b = instructions_for(Chain.FAMILYMART, "pay_other", SECRET)
    assert a.confirmation_number == b.confirmation_number
    assert a.payment_code != b.payment_code


def test_lawson_steps_read_naturally() -> None:
    inst = instructions_for(Chain.LAWSON, PAYMENT, SECRET)
    assert inst.steps[0] == (
        "店内のLoppi（ロッピー）のトップ画面で「各種番号をお持ちの方」を選んでください。"
    )
    assert inst.steps[1] == f"お客様番号（14桁）「{inst.payment_code}」を入力してください。"


def test_all_instructions_cover_every_chain() -> None:
    assert set(all_instructions(PAYMENT, SECRET)) == set(Chain)


def test_parse_chain_refuses_unknown_chains() -> None:
    assert parse_chain("lawson") is Chain.LAWSON
    with pytest.raises(UnprocessableContent) as info:
        parse_chain("circle_k")
    assert _field(info.value) == "chain"


@pytest.mark.parametrize("amount", [1, MAX_KONBINI_AMOUNT])
def test_amount_limits_accept(amount: int) -> None:
    assert check_amount(amount) == amount


@pytest.mark.parametrize("amount", [0, MAX_KONBINI_AMOUNT + 1])
def test_amount_limits_refuse(amount: int) -> None:
    with pytest.raises(UnprocessableContent) as info:
        check_amount(amount)
    assert _field(info.value) == "amount"


@pytest.mark.parametrize("chain", list(Chain))
def test_lookup_round_trips_and_matches(chain: Chain) -> None:
    inst = instructions_for(chain, PAYMENT, SECRET)
    lookup = parse_lookup(chain.value, inst.payment_code, inst.confirmation_number)
    assert lookup.kind == "payment_code"
    assert lookup.payment_code == inst.payment_code
    assert lookup.confirmation_number == inst.confirmation_number
    assert matches(inst, lookup)


def test_lookup_normalises_what_people_type() -> None:
    inst = instructions_for(Chain.LAWSON, PAYMENT, SECRET)
    assert inst.confirmation_number is not None
    spaced = inst.payment_code[:4] + "-" + inst.payment_code[4:8] + " " + inst.payment_code[8:]
    full_width = inst.confirmation_number.translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    lookup = parse_lookup("lawson", spaced, full_width)
    assert lookup.payment_code == inst.payment_code
    assert lookup.confirmation_number == inst.confirmation_number


def test_wrong_confirmation_does_not_match() -> None:
    inst = instructions_for(Chain.LAWSON, PAYMENT, SECRET)
    assert inst.confirmation_number is not None
    wrong = str((int(inst.confirmation_number) + 1) % 10_000).zfill(4)
    assert not matches(inst, parse_lookup("lawson", inst.payment_code, wrong))


def test_code_of_another_chain_does_not_match() -> None:
    lawson = instructions_for(Chain.LAWSON, PAYMENT, SECRET)
    ministop = instructions_for(Chain.MINISTOP, PAYMENT, SECRET)
    assert lawson.confirmation_number is not None
    lookup = parse_lookup("ministop", lawson.payment_code, lawson.confirmation_number)
    assert not matches(ministop, lookup)


def test_scanned_slip_barcode_is_identified_as_a_barcode() -> None:
    slip = build(company_code="912345", free_field="42", deadline=date(2026, 4, 30), amount=500)
    lookup = parse_lookup("seven_eleven", slip.digits)
    assert lookup.kind == "barcode"
    assert lookup.barcode == slip
    assert not matches(instructions_for(Chain.SEVEN_ELEVEN, PAYMENT, SECRET), lookup)


@pytest.mark.parametrize(
    ("chain", "code", "confirmation", "field"),
    [
        ("lawson", "123", "1234", "payment_code"),
        ("lawson", "1234567890123a", "1234", "payment_code"),
        ("lawson", "12345678901234", None, "confirmation_number"),
        ("lawson", "12345678901234", "12345", "confirmation_number"),
        ("seven_eleven", "1234567890123", "1234", "confirmation_number"),
        ("seven_eleven", "12345678901234", None, "payment_code"),
        ("familymart", "123456789012", "1234", "confirmation_number"),
        ("seicomart", "9" * 44, None, "payment_code"),
        ("am_pm", "1234567890123", None, "chain"),
    ],
)
def test_lookup_names_the_bad_field(
    chain: str, code: str, confirmation: str | None, field: str
) -> None:
    with pytest.raises(UnprocessableContent) as info:
        parse_lookup(chain, code, confirmation)
    assert _field(info.value) == field
