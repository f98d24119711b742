"""Pay-easy (ペイジー, マルチペイメントネットワーク): the three numbers a payer keys in.

At an ATM or in net banking the payer enters the 収納機関番号 (5 digits, one per collecting
institution), the お客様番号 (up to 20 digits, per payment) and the 確認番号 (6 digits). The
mock is a single institution whose number comes from settings; the other two are derived from
the payment id with an HMAC so they stay the same for the life of the payment.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from services.kit.errors import UnprocessableContent
from services.payments_mock.domain.digit_codes import derive_digits, normalize_digits

INSTITUTION_DIGITS = 5
CUSTOMER_NUMBER_MAX = 20
CUSTOMER_NUMBER_DIGITS = 16
CONFIRMATION_DIGITS = 6

ATM_STEPS = (
    "ペイジーマークのあるATMで「税金・料金払込み」を選んでください。",
    "収納機関番号（5桁）「{institution_number}」を入力してください。",
    "お客様番号「{customer_number}」を入力してください。",
    "確認番号（6桁）「{confirmation_number}」を入力してください。",
    "表示された内容と金額を確認し、現金またはキャッシュカードでお支払いください。",
    "ATMから出力される「ご利用明細」を領収書として保管してください。",
)

NET_BANKING_STEPS = (
    "お使いの銀行のインターネットバンキングにログインし、「ペイジー（税金・各種料金の払込み）」を"
    "選んでください。",
    "収納機関番号（5桁）「{institution_number}」を入力してください。",
    "お客様番号「{customer_number}」と確認番号（6桁）「{confirmation_number}」を入力してください。",
    "表示された内容と金額を確認し、お支払いを確定してください。",
)


@dataclass(frozen=True, slots=True)
class PayEasyNumbers:
    institution_number: str
    customer_number: str
    confirmation_number: str

    def atm_steps(self) -> tuple[str, ...]:
        return self._fill(ATM_STEPS)

    def net_banking_steps(self) -> tuple[str, ...]:
        return self._fill(NET_BANKING_STEPS)

    def _fill(self, steps: tuple[str, ...]) -> tuple[str, ...]:
        values = {
            "institution_number": self.institution_number,
            "customer_number": self.customer_number,
            "confirmation_number": self.confirmation_number,
        }
        return tuple(step.format(**values) for step in steps)


def check_institution_number(raw: str) -> str:
    return normalize_digits(raw, field="institution_number", lengths=(INSTITUTION_DIGITS,))


def numbers_for(institution_number: str, payment_id: str, secret: bytes) -> PayEasyNumbers:
    return PayEasyNumbers(
        institution_number=check_institution_number(institution_number),
        customer_number=derive_digits(
            secret, "payeasy:customer", payment_id, CUSTOMER_NUMBER_DIGITS
        ),
        confirmation_number=derive_digits(
            secret, "payeasy:confirmation", payment_id, CONFIRMATION_DIGITS
        ),
    )


def parse_numbers(institution: str, customer: str, confirmation: str) -> PayEasyNumbers:
    """Normalise what a payer keyed in; raises UnprocessableContent naming the bad number."""
    return PayEasyNumbers(
        institution_number=check_institution_number(institution),
        customer_number=normalize_digits(
            customer, field="customer_number", lengths=range(1, CUSTOMER_NUMBER_MAX + 1)
        ),
        confirmation_number=normalize_digits(
            confirmation, field="confirmation_number", lengths=(CONFIRMATION_DIGITS,)
        ),
    )


def matches(expected: PayEasyNumbers, presented: PayEasyNumbers) -> bool:
    """All three numbers agree (compared in constant time)."""
    return all(
        hmac.compare_digest(a, b)
        for a, b in (
            (expected.institution_number, presented.institution_number),
            (expected.customer_number, presented.customer_number),
            (expected.confirmation_number, presented.confirmation_number),
        )
    )


def require_match(expected: PayEasyNumbers, presented: PayEasyNumbers) -> None:
    """Like `matches`, but a wrong confirmation number is a 422 naming that field."""
    if not matches(expected, presented):
        raise UnprocessableContent(
            "the numbers do not match a payment awaiting payment", field="confirmation_number"
        )
