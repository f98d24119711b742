"""Fees of a procedure: fixed, per copy, or per item from the form (粗大ごみ per item).

Every amount in the demo catalogue is fictional (the catalogue says so on each fee)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.e_application.domain.forms import value_at

MAX_FEE_YEN = 999_999  # what one konbini slip can carry


class PaymentMethod(StrEnum):
    KONBINI = "konbini"
    PAYEASY = "payeasy"
    CARD = "card"


class _Fee(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fictional: bool = Field(True, description="demo amounts are fictional")
    note_ja: str | None = Field(None, max_length=200)


class FixedFee(_Fee):
    kind: Literal["fixed"] = "fixed"
    amount_yen: int = Field(ge=0, le=MAX_FEE_YEN)


class PerCopyFee(_Fee):
    """`amount_yen` times the integer at `quantity_pointer` (e.g. `/copies`)."""

    kind: Literal["per_copy"] = "per_copy"
    amount_yen: int = Field(ge=0, le=MAX_FEE_YEN)
    quantity_pointer: str = Field(pattern=r"^(/[^/]+)+$")


class PerItemFee(_Fee):
    """The sum over the array at `items_pointer` of the item's price times its quantity."""

    kind: Literal["per_item"] = "per_item"
    items_pointer: str = Field(pattern=r"^(/[^/]+)+$")
    price_key: str = Field(min_length=1, max_length=64)
    quantity_key: str = Field(min_length=1, max_length=64)
    prices: dict[str, Annotated[int, Field(ge=0, le=MAX_FEE_YEN)]] = Field(min_length=1)


Fee = Annotated[FixedFee | PerCopyFee | PerItemFee, Field(discriminator="kind")]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def amount(fee: FixedFee | PerCopyFee | PerItemFee | None, answers: Any) -> int:
    """The fee in yen for these (already validated) answers, capped at one slip's maximum."""
    if fee is None:
        return 0
    if isinstance(fee, FixedFee):
        total = fee.amount_yen
    elif isinstance(fee, PerCopyFee):
        total = fee.amount_yen * _count(value_at(answers, fee.quantity_pointer))
    else:
        items = value_at(answers, fee.items_pointer)
        total = 0
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                price = fee.prices.get(str(item.get(fee.price_key)), 0)
                total += price * _count(item.get(fee.quantity_key))
    return min(total, MAX_FEE_YEN)
