"""The 44-digit GS1-128 barcode printed on Japanese convenience-store payment slips.

Layout (GS1 Japan, 「GS1-128シンボルによる標準料金代理収納ガイドライン」, summarised by
https://itpfdoc.hitachi.co.jp/manuals/3021/3021701210/EUDS0050.HTM and
https://rolan.co.jp/shouhin/s_sakurabarcode5_ue.html):

    position  width  field
    0         2      AI "91" (the free-use application identifier chosen for 料金代理収納)
    2         6      請求書発行企業コード: the JAN company prefix without its leading "4",
                     so it starts with the country code 9
    8         21     自由使用欄, the biller's own reference (padded on the right with 0)
    29        1      再発行区分 (how many times the slip was reissued, 0-9)
    30        6      支払期限日 YYMMDD
    36        1      印紙フラグ (1 when the receipt needs a revenue stamp)
    37        6      支払金額 in yen
    43        1      check digit

Check digit: modulus 10, weights 3 and 1, over all 43 digits before it *including the AI
"91"*; the rightmost of those 43 digits has weight 3 and the weights alternate leftwards (43 is
odd, so the leftmost "9" also has weight 3). The digit is (10 - sum % 10) % 10. Sources that
agree: shimoning/dsk-cvs `src/Utilities/CheckDigit.php` (a client of a collection agency:
reverses the 43 digits and weights index 0 by 3), a school-fee system's `CvsBarcode.checkDigit`
found by the same search (counts positions from the right with the check digit as position 1
and weights even positions by 3; its worked examples "91912345…" and "91942386…" both give 3,
which this module reproduces in the tests), and a real collection record in a payment-file
test ("91929023…99999999" ends in 9 only when the AI is included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from services.kit.errors import UnprocessableContent

AI = "91"
LENGTH = 44
FREE_FIELD_LENGTH = 21
MAX_AMOUNT = 999_999


class InvalidBarcode(UnprocessableContent):
    """A konbini barcode (or a part of one) that cannot be valid; `part` names what is wrong."""

    def __init__(self, detail: str, /, *, part: str, field: str = "barcode", **ext: Any) -> None:
        super().__init__(detail, field=field, part=part, **ext)
        self.part = part


def check_digit(digits43: str) -> str:
    """The modulus-10 / weight-3,1 check digit of the first 43 digits (AI included)."""
    if len(digits43) != LENGTH - 1 or not (digits43.isascii() and digits43.isdigit()):
        raise ValueError("check_digit needs exactly 43 ASCII digits")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits43)))
    return str((10 - total % 10) % 10)


@dataclass(frozen=True, slots=True)
class KonbiniBarcode:
    company_code: str
    free_field: str
    reissue: int
    deadline: date
    stamp_duty: bool
    amount: int

    def __post_init__(self) -> None:
        _require_digits(self.company_code, 6, "company_code")
        if self.company_code[0] != "9":
            raise InvalidBarcode(
                "company_code must start with the country code 9", part="company_code"
            )
        _require_digits(self.free_field, FREE_FIELD_LENGTH, "free_field")
        if not 0 <= self.reissue <= 9:
            raise InvalidBarcode("reissue must be between 0 and 9", part="reissue")
        if not 2000 <= self.deadline.year <= 2099:
            raise InvalidBarcode("deadline must fall in the years 2000-2099", part="deadline")
        if not 1 <= self.amount <= MAX_AMOUNT:
            raise InvalidBarcode(f"amount must be between 1 and {MAX_AMOUNT} yen", part="amount")

    @property
    def data(self) -> str:
        """The 43 digits the check digit protects."""
        return (
            AI
            + self.company_code
            + self.free_field
            + str(self.reissue)
            + self.deadline.strftime("%y%m%d")
            + ("1" if self.stamp_duty else "0")
            + f"{self.amount:06d}"
        )

    @property
    def digits(self) -> str:
        data = self.data
        return data + check_digit(data)

    @property
    def human_readable(self) -> str:
        """The text printed under the bars, grouped the way slips print it."""
        d = self.digits
        return f"({d[:2]}){d[2:8]}-{d[8:29]}-{d[29]}-{d[30:36]}-{d[36]}-{d[37:43]}-{d[43]}"


def build(
    *,
    company_code: str,
    free_field: str,
    deadline: date,
    amount: int,
    reissue: int = 0,
    stamp_duty: bool = False,
) -> KonbiniBarcode:
    """A barcode for one slip; a short `free_field` is padded on the right with zeros."""
    _require_digits(free_field, None, "free_field")
    if len(free_field) > FREE_FIELD_LENGTH:
        raise InvalidBarcode(
            f"free_field must be at most {FREE_FIELD_LENGTH} digits", part="free_field"
        )
    return KonbiniBarcode(
        company_code=company_code,
        free_field=free_field.ljust(FREE_FIELD_LENGTH, "0"),
        reissue=reissue,
        deadline=deadline,
        stamp_duty=stamp_duty,
        amount=amount,
    )


def parse(digits: str) -> KonbiniBarcode:
    """Read 44 scanned digits back into their fields, refusing anything a store would refuse."""
    if len(digits) != LENGTH:
        raise InvalidBarcode(
            f"a konbini barcode has {LENGTH} digits, got {len(digits)}", part="length"
        )
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidBarcode("a konbini barcode contains only digits 0-9", part="digits")
    if not digits.startswith(AI):
        raise InvalidBarcode(
            f"the application identifier must be {AI}, got {digits[:2]}", part="ai"
        )
    expected = check_digit(digits[:-1])
    if digits[-1] != expected:
        raise InvalidBarcode(
            f"check digit is {digits[-1]} but the data gives {expected}", part="check_digit"
        )
    if digits[36] not in "01":
        raise InvalidBarcode("the stamp-duty flag must be 0 or 1", part="stamp_duty")
    try:
        deadline = date(2000 + int(digits[30:32]), int(digits[32:34]), int(digits[34:36]))
    except ValueError:
        raise InvalidBarcode(
            f"the deadline {digits[30:36]} is not a date (YYMMDD)", part="deadline"
        ) from None
    return KonbiniBarcode(
        company_code=digits[2:8],
        free_field=digits[8:29],
        reissue=int(digits[29]),
        deadline=deadline,
        stamp_duty=digits[36] == "1",
        amount=int(digits[37:43]),
    )


def _require_digits(value: str, length: int | None, part: str) -> None:
    if not value or not (value.isascii() and value.isdigit()):
        raise InvalidBarcode(f"{part} must contain only digits", part=part)
    if length is not None and len(value) != length:
        raise InvalidBarcode(f"{part} must be {length} digits, got {len(value)}", part=part)
