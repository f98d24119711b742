from __future__ import annotations

from datetime import date

import pytest

from services.kit.errors import UnprocessableContent
from services.payments_mock.domain.gs1_barcode import (
    LENGTH,
    InvalidBarcode,
    KonbiniBarcode,
    build,
    check_digit,
    parse,
)


def _with_check(data43: str) -> str:
    return data43 + check_digit(data43)


# Worked by hand. Index the 43 data digits 0..42 from the left; 43 is odd, so the rightmost
# (index 42) and every even index weigh 3, odd indexes weigh 1.
#
# Example A: 91 912345 012345678901234567890 1 010331 0 123000 (worked example of a school-fee
# system's CvsBarcode, which states the result 3).
#   even indexes: 9+9+2+4+0+2+4+6+8+0+2+4+6+8+0+0+0+3+0+2+0+0 = 69, x3 = 207
#   odd indexes:  1+1+3+5+1+3+5+7+9+1+3+5+7+9+1+1+3+1+1+3+0   = 70
#   207 + 70 = 277 -> 10 - 7 = 3
EXAMPLE_A = "91" + "912345" + "012345678901234567890" + "1" + "010331" + "0" + "123000"
#
# Example B: 91 900000 000000000000000000000 0 260131 0 001000
#   non-zero digits: idx0 9x3=27, idx1 1x1=1, idx2 9x3=27, idx30 2x3=6, idx31 6x1=6,
#   idx33 1x1=1, idx34 3x3=9, idx35 1x1=1, idx39 1x1=1 -> 79 -> 10 - 9 = 1
EXAMPLE_B = "91" + "900000" + "0" * 21 + "0" + "260131" + "0" + "001000"


def test_worked_example_a() -> None:
    assert check_digit(EXAMPLE_A) == "3"


def test_worked_example_b() -> None:
    assert check_digit(EXAMPLE_B) == "1"
    slip = build(company_code="900000", free_field="0", deadline=date(2026, 1, 31), amount=1000)
    assert slip.digits == EXAMPLE_B + "1"


def test_second_published_example_and_a_real_collection_record() -> None:
    # The same CvsBarcode source gives 3 for this one too.
    assert check_digit("91942386178953917853935692730103073110" + "31290") == "3"
    # A record from a collection agency's payment file: its check digit 9 only comes out when
    # the AI "91" is part of the sum (without it the digit would be 7).
    record = "91929023219420000000000037554399999999999999"
    assert check_digit(record[:43]) == record[43]


def test_check_digit_wants_43_ascii_digits() -> None:
    with pytest.raises(ValueError, match="43"):
        check_digit("1" * 42)
    with pytest.raises(ValueError, match="43"):
        check_digit("１" * 43)


def test_build_then_parse_round_trips_every_field() -> None:
    slip = build(
        company_code="912345",
        free_field="202600012345",
        deadline=date(2026, 3, 31),
        amount=12_345,
        reissue=2,
        stamp_duty=True,
    )
    assert slip.free_field == "202600012345000000000"
    digits = slip.digits
    assert len(digits) == LENGTH
    assert digits.startswith("91912345202600012345000000000" + "2" + "260331" + "1" + "012345")
    assert parse(digits) == slip


def test_human_readable_groups_the_fields() -> None:
    slip = parse(EXAMPLE_A + "3")
    assert slip.human_readable == "(91)912345-012345678901234567890-1-010331-0-123000-3"
    assert slip.deadline == date(2001, 3, 31)
    assert slip.amount == 123_000
    assert slip.reissue == 1


@pytest.mark.parametrize("amount", [1, 999_999])
def test_amount_bounds_are_accepted(amount: int) -> None:
    slip = build(company_code="912345", free_field="1", deadline=date(2026, 1, 1), amount=amount)
    assert parse(slip.digits).amount == amount


@pytest.mark.parametrize("amount", [0, -1, 1_000_000])
def test_amount_outside_the_six_digits_is_refused(amount: int) -> None:
    with pytest.raises(InvalidBarcode) as info:
        build(company_code="912345", free_field="1", deadline=date(2026, 1, 1), amount=amount)
    assert info.value.part == "amount"


@pytest.mark.parametrize(
    ("kwargs", "part"),
    [
        ({"company_code": "812345"}, "company_code"),
        ({"company_code": "91234"}, "company_code"),
        ({"free_field": "1" * 22}, "free_field"),
        ({"free_field": "12a"}, "free_field"),
        ({"reissue": 10}, "reissue"),
        ({"deadline": date(2100, 1, 1)}, "deadline"),
    ],
)
def test_build_names_the_bad_part(kwargs: dict[str, object], part: str) -> None:
    args: dict[str, object] = {
        "company_code": "912345",
        "free_field": "1",
        "deadline": date(2026, 1, 1),
        "amount": 100,
    }
    args.update(kwargs)
    with pytest.raises(InvalidBarcode) as info:
        build(**args)  # type: ignore[arg-type]
    assert info.value.part == part


def test_invalid_barcode_is_an_unprocessable_content_problem() -> None:
    with pytest.raises(UnprocessableContent) as info:
        parse("91")
    assert info.value.status == 422
    assert info.value.extensions["errors"][0]["field"] == "barcode"
    assert info.value.extensions["part"] == "length"


@pytest.mark.parametrize(
    ("digits", "part"),
    [
        (EXAMPLE_A + "3" + "0", "length"),
        (EXAMPLE_A, "length"),
        ("", "length"),
        (EXAMPLE_A[:-1] + "x3", "digits"),
        (EXAMPLE_A[:-1] + "０3", "digits"),
        (_with_check("92" + EXAMPLE_A[2:]), "ai"),
        (EXAMPLE_A + "4", "check_digit"),
        (_with_check(EXAMPLE_A[:36] + "2" + EXAMPLE_A[37:]), "stamp_duty"),
        (_with_check(EXAMPLE_A[:30] + "260230" + EXAMPLE_A[36:]), "deadline"),
        (_with_check(EXAMPLE_A[:37] + "000000"), "amount"),
        (_with_check("91812345" + EXAMPLE_A[8:]), "company_code"),
    ],
)
def test_parse_names_what_is_wrong(digits: str, part: str) -> None:
    with pytest.raises(InvalidBarcode) as info:
        parse(digits)
    assert info.value.part == part


VALID = EXAMPLE_A + "3"


@pytest.mark.parametrize("position", range(LENGTH))
def test_every_single_digit_corruption_is_rejected(position: int) -> None:
    for replacement in "0123456789":
        if replacement == VALID[position]:
            continue
        corrupted = VALID[:position] + replacement + VALID[position + 1 :]
        with pytest.raises(InvalidBarcode):
            parse(corrupted)


def test_the_dataclass_is_frozen() -> None:
    slip = parse(VALID)
    with pytest.raises(AttributeError):
        slip.amount = 1  # type: ignore[misc]
    assert isinstance(slip, KonbiniBarcode)
