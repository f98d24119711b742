"""The payment methods offered and their amount limits (yen), declared once."""

from __future__ import annotations

from dataclasses import dataclass

from services.payments_mock.domain import gs1_barcode
from services.payments_mock.domain.konbini import Chain
from services.payments_mock.domain.lifecycle import Channel

# Konbini slips carry the amount in the barcode's six digits; Pay-easy takes the same range.
# Real stores refuse more than 300,000 yen per slip (konbini.MAX_KONBINI_AMOUNT).
MAX_SLIP_AMOUNT = gs1_barcode.MAX_AMOUNT
MAX_CARD_AMOUNT = 9_999_999
MIN_AMOUNT = 1


@dataclass(frozen=True, slots=True)
class Method:
    channel: Channel
    name_ja: str
    max_amount: int
    chains: tuple[Chain, ...] = ()


METHODS: dict[Channel, Method] = {
    Channel.KONBINI: Method(Channel.KONBINI, "コンビニ払い", MAX_SLIP_AMOUNT, tuple(Chain)),
    Channel.PAYEASY: Method(Channel.PAYEASY, "ペイジー", MAX_SLIP_AMOUNT),
    Channel.CARD: Method(Channel.CARD, "クレジットカード", MAX_CARD_AMOUNT),
}


def max_amount(channel: Channel) -> int:
    return METHODS[channel].max_amount
