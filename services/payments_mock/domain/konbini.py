"""Per-chain convenience-store payment instructions, as a payment provider returns them.

Number formats and steps follow what payers are shown today (Stripe's and KOMOJU's
`payment_code` / `confirmation_number` per store; billers' help pages):

    chain          payment code                          confirmation number
    seven_eleven   払込票番号, 13 digits                  none (code told at the register)
    lawson         お客様番号, 14 digits (Loppi)          確認番号, 4 digits
    ministop       お客様番号, 14 digits (Loppi)          確認番号, 4 digits
    familymart     第2番号 (注文番号), 12 digits           第1番号 (企業コード), 5 digits
    dailyyamazaki  オンライン決済番号, 11 digits          none (typed on the register panel)
    seicomart      オンライン決済番号, 11 digits          none (typed on the register panel)

Codes are derived from the payment id with an HMAC, so the same payment always shows the same
numbers. FamilyMart's 第1番号 is the biller's company code, the same for every payment of this
provider. A chain refuses amounts above 300,000 yen (the stores' limit since April 2008).

Sources: Stripe API `next_action.konbini_display_details.stores.*` (payment_code and
confirmation_number per store); https://mrsgreenapple.com/faq/detail/24 (Loppi: 14-digit
customer number + 4-digit confirmation number; multi-copy machine: 5-digit first number +
12-digit second number); https://www.sbpayment.jp/support/how_to_pay/cvs_wellnet/ (Seven-Eleven
払込票番号 told at the register); https://fitnessshop.live/en/pages/payment_method_seicomart
(online payment number typed on the register touch panel);
https://payment.rakuten-card.co.jp/cvs_help/lawson.html (30万円 limit, 30-minute slip).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from services.kit.errors import UnprocessableContent
from services.payments_mock.domain.digit_codes import derive_digits, normalize_digits
from services.payments_mock.domain.gs1_barcode import AI, LENGTH, KonbiniBarcode, parse

MAX_KONBINI_AMOUNT = 300_000


class Chain(StrEnum):
    SEVEN_ELEVEN = "seven_eleven"
    LAWSON = "lawson"
    FAMILYMART = "familymart"
    MINISTOP = "ministop"
    DAILYYAMAZAKI = "dailyyamazaki"
    SEICOMART = "seicomart"


@dataclass(frozen=True, slots=True)
class ChainFormat:
    name_ja: str
    payment_code_label: str
    payment_code_digits: int
    confirmation_label: str | None
    confirmation_digits: int | None
    # Steps with {payment_code} / {confirmation_number} placeholders.
    steps: tuple[str, ...]


_LOPPI_STEPS = (
    "店内のLoppi（ロッピー）のトップ画面で「各種番号をお持ちの方」を選んでください。",
    "お客様番号（14桁）「{payment_code}」を入力してください。",
    "確認番号（4桁）「{confirmation_number}」を入力し、「次へ」を押してください。",
    "お支払い内容を確認し、「はい」を押してください。",
    "発券された申込券を30分以内にレジへお持ちいただき、現金でお支払いください。",
    "お支払い後、「取扱明細兼領収書」を必ずお受け取りください。",
)

_REGISTER_PANEL_STEPS = (
    "レジで「オンライン決済」とお伝えください。",
    "レジのタッチパネルにオンライン決済番号（11桁）「{payment_code}」を"
    "ハイフンなしで入力してください。",
    "画面に表示されたお支払い内容を確認し、「OK」を押してください。",
    "現金でお支払いのうえ、「取扱明細書兼領収書」を必ずお受け取りください。",
)

FORMATS: dict[Chain, ChainFormat] = {
    Chain.SEVEN_ELEVEN: ChainFormat(
        name_ja="セブン-イレブン",
        payment_code_label="払込票番号",
        payment_code_digits=13,
        confirmation_label=None,
        confirmation_digits=None,
        steps=(
            "レジで「インターネット代金の支払い」とお伝えください。",
            "払込票番号（13桁）「{payment_code}」をお伝えいただくか、"
            "印刷した払込票をご提示ください。",
            "レジに表示された金額を確認し、現金でお支払いください。",
            "お支払い後、「払込領収書」を必ずお受け取りください。",
        ),
    ),
    Chain.LAWSON: ChainFormat(
        name_ja="ローソン",
        payment_code_label="お客様番号",
        payment_code_digits=14,
        confirmation_label="確認番号",
        confirmation_digits=4,
        steps=_LOPPI_STEPS,
    ),
    Chain.MINISTOP: ChainFormat(
        name_ja="ミニストップ",
        payment_code_label="お客様番号",
        payment_code_digits=14,
        confirmation_label="確認番号",
        confirmation_digits=4,
        steps=_LOPPI_STEPS,
    ),
    Chain.FAMILYMART: ChainFormat(
        name_ja="ファミリーマート",
        payment_code_label="第2番号（注文番号）",
        payment_code_digits=12,
        confirmation_label="第1番号（企業コード）",
        confirmation_digits=5,
        steps=(
            "店内のマルチコピー機のトップ画面で「代金支払い」を選んでください。",
            "「番号入力」を選び、第1番号（5桁）「{confirmation_number}」を入力して"
            "「OK」を押してください。",
            "第2番号（12桁）「{payment_code}」を入力して「OK」を押してください。",
            "お支払い内容を確認し、「確認」を押してください。",
            "発券された申込券を30分以内にレジへお持ちいただき、現金でお支払いください。",
            "お支払い後、「領収書」を必ずお受け取りください。",
        ),
    ),
    Chain.DAILYYAMAZAKI: ChainFormat(
        name_ja="デイリーヤマザキ",
        payment_code_label="オンライン決済番号",
        payment_code_digits=11,
        confirmation_label=None,
        confirmation_digits=None,
        steps=_REGISTER_PANEL_STEPS,
    ),
    Chain.SEICOMART: ChainFormat(
        name_ja="セイコーマート",
        payment_code_label="オンライン決済番号",
        payment_code_digits=11,
        confirmation_label=None,
        confirmation_digits=None,
        steps=_REGISTER_PANEL_STEPS,
    ),
}


@dataclass(frozen=True, slots=True)
class KonbiniInstructions:
    chain: Chain
    chain_name: str
    payment_code: str
    payment_code_label: str
    confirmation_number: str | None
    confirmation_label: str | None
    steps: tuple[str, ...]


def parse_chain(raw: str) -> Chain:
    try:
        return Chain(raw)
    except ValueError:
        allowed = ", ".join(c.value for c in Chain)
        raise UnprocessableContent(f"chain must be one of {allowed}", field="chain") from None


def check_amount(amount: int) -> int:
    """Stores take 1 to 300,000 yen per slip."""
    if not 1 <= amount <= MAX_KONBINI_AMOUNT:
        raise UnprocessableContent(
            f"convenience stores accept 1 to {MAX_KONBINI_AMOUNT:,} yen per payment",
            field="amount",
        )
    return amount


def payment_code(chain: Chain, payment_id: str, secret: bytes) -> str:
    fmt = FORMATS[chain]
    return derive_digits(secret, f"konbini:{chain.value}:code", payment_id, fmt.payment_code_digits)


def confirmation_number(chain: Chain, payment_id: str, secret: bytes) -> str | None:
    fmt = FORMATS[chain]
    if fmt.confirmation_digits is None:
        return None
    if chain is Chain.FAMILYMART:
        return derive_digits(secret, "konbini:familymart:company", "", fmt.confirmation_digits)
    return derive_digits(
        secret, f"konbini:{chain.value}:confirmation", payment_id, fmt.confirmation_digits
    )


def instructions_for(chain: Chain, payment_id: str, secret: bytes) -> KonbiniInstructions:
    fmt = FORMATS[chain]
    code = payment_code(chain, payment_id, secret)
    confirmation = confirmation_number(chain, payment_id, secret)
    values = {"payment_code": code, "confirmation_number": confirmation or ""}
    return KonbiniInstructions(
        chain=chain,
        chain_name=fmt.name_ja,
        payment_code=code,
        payment_code_label=fmt.payment_code_label,
        confirmation_number=confirmation,
        confirmation_label=fmt.confirmation_label,
        steps=tuple(step.format(**values) for step in fmt.steps),
    )


def all_instructions(payment_id: str, secret: bytes) -> dict[Chain, KonbiniInstructions]:
    return {chain: instructions_for(chain, payment_id, secret) for chain in Chain}


@dataclass(frozen=True, slots=True)
class KonbiniLookup:
    """What a caller at the store presented, normalised for a database search.

    `kind` says which code it was: the chain's payment code (with its confirmation number when
    the chain uses one) or the 44-digit slip barcode scanned at the register.
    """

    chain: Chain
    kind: Literal["payment_code", "barcode"]
    payment_code: str | None
    confirmation_number: str | None
    barcode: KonbiniBarcode | None


def parse_lookup(chain: str, code: str, confirmation: str | None = None) -> KonbiniLookup:
    """Identify and validate the numbers a payer brings to `chain`.

    Accepts full-width digits, spaces and hyphens. Raises UnprocessableContent naming `chain`,
    `payment_code` or `confirmation_number` when something cannot belong to a payment.
    """
    parsed_chain = parse_chain(chain)
    fmt = FORMATS[parsed_chain]
    digits = normalize_digits(code, field="payment_code", lengths=(fmt.payment_code_digits, LENGTH))
    if len(digits) == LENGTH and digits.startswith(AI) and fmt.payment_code_digits != LENGTH:
        if confirmation:
            raise UnprocessableContent(
                "a scanned barcode needs no confirmation number", field="confirmation_number"
            )
        return KonbiniLookup(parsed_chain, "barcode", None, None, parse(digits))
    if len(digits) != fmt.payment_code_digits:
        raise UnprocessableContent(
            f"a {fmt.name_ja} {fmt.payment_code_label} has {fmt.payment_code_digits} digits",
            field="payment_code",
        )
    normalized_confirmation = None
    if fmt.confirmation_digits is not None:
        if not confirmation:
            raise UnprocessableContent(
                f"{fmt.name_ja} needs the {fmt.confirmation_label}", field="confirmation_number"
            )
        normalized_confirmation = normalize_digits(
            confirmation, field="confirmation_number", lengths=(fmt.confirmation_digits,)
        )
    elif confirmation:
        raise UnprocessableContent(
            f"{fmt.name_ja} uses no confirmation number", field="confirmation_number"
        )
    return KonbiniLookup(parsed_chain, "payment_code", digits, normalized_confirmation, None)


def matches(instructions: KonbiniInstructions, lookup: KonbiniLookup) -> bool:
    """Whether a looked-up payment's instructions agree with what the payer presented."""
    if lookup.kind != "payment_code" or lookup.chain is not instructions.chain:
        return False
    assert lookup.payment_code is not None
    same_code = hmac.compare_digest(lookup.payment_code, instructions.payment_code)
    same_confirmation = hmac.compare_digest(
        lookup.confirmation_number or "", instructions.confirmation_number or ""
    )
    return same_code and same_confirmation
