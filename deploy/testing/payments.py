"""Outcomes a payer brings about at payments_mock, driven through its simulation endpoints as
the demo client (scope `payments:simulate`, which acts on any payment): paying at a store or
by Pay-easy, paying late, letting a payment expire, and the test cards that decline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class TestCards:
    """payments_mock's test card numbers (after Stripe's), for `card_number` fields."""

    __test__ = False  # not a pytest test class

    succeeds: str = "4242424242424242"
    declined: str = "4000000000000002"  # generic_decline
    insufficient_funds: str = "4000000000009995"
    network_error: str = "4000000000000119"  # the processor failed; retry later


CARDS = TestCards()


def _find(value: Any, key: str) -> str | None:
    """`key` anywhere in a payment as the API shows it (payments_mock's payment, a service's
    fee instructions), depth first."""
    if isinstance(value, Mapping):
        found = value.get(key)
        if isinstance(found, str):
            return found
        values = list(value.values())
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        if (inner := _find(item, key)) is not None:
            return inner
    return None


class Payments:
    def __init__(self, simulator: httpx.AsyncClient) -> None:
        self.simulator = simulator  # the demo client
        self.cards = CARDS

    @staticmethod
    def _json(answer: httpx.Response) -> dict[str, Any]:
        if answer.is_error:
            raise AssertionError(f"{answer.request.url.path}: {answer.status_code} {answer.text}")
        body: dict[str, Any] = answer.json()
        return body

    async def pay_at_store(
        self, payment: Mapping[str, Any] | str, *, chain: str = "seven_eleven"
    ) -> dict[str, Any]:
        """A payer pays a konbini payment at a `chain` register, by its barcode: `payment` is
        the barcode or anything holding it (the payment, a fee's instructions). Returns the
        receipt; the biller hears of it by webhook."""
        barcode = payment if isinstance(payment, str) else _find(payment, "barcode")
        if barcode is None:
            raise ValueError("no konbini barcode in that payment (is its method konbini?)")
        body = {"chain": chain, "barcode": barcode}
        return self._json(await self.simulator.post("/v1/simulate/konbini/payments", json=body))

    async def pay_by_payeasy(
        self, payment: Mapping[str, Any], *, channel: str = "atm"
    ) -> dict[str, Any]:
        """A payer keys a Pay-easy payment's numbers in at an ATM or in net banking."""
        numbers = {
            key: _find(payment, key)
            for key in ("institution_number", "customer_number", "confirmation_number")
        }
        if None in numbers.values():
            raise ValueError("no Pay-easy numbers in that payment (is its method payeasy?)")
        body = {**numbers, "channel": channel}
        return self._json(await self.simulator.post("/v1/simulate/payeasy/payments", json=body))

    async def expire(self, payment_id: str) -> dict[str, Any]:
        """Expires the payment now, as the sweep would at its deadline."""
        path = f"/v1/simulate/payments/{payment_id}/expire"
        return self._json(await self.simulator.post(path))

    async def pay_late(self, payment_id: str, *, chain: str = "seven_eleven") -> dict[str, Any]:
        """An expired konbini payment was paid just before its deadline: the notice arrives
        now (`late: true`)."""
        path = f"/v1/simulate/payments/{payment_id}/late-payment"
        return self._json(await self.simulator.post(path, json={"chain": chain}))

    async def decline_card(
        self, payment_id: str, *, reason: str = "declined", client: httpx.AsyncClient | None = None
    ) -> dict[str, Any]:
        """Charges an unpaid card payment with a card that is declined (`declined`,
        `insufficient_funds`) or fails at the processor (`network_error`), as its owner
        (`client`, by default the demo client)."""
        number = getattr(self.cards, reason)
        body = {"card": {"number": number}}
        owner = client or self.simulator
        return self._json(await owner.post(f"/v1/payments/{payment_id}/card-attempts", json=body))
