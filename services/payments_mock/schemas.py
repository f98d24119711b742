"""Request and response models of payments_mock."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Method = Literal["konbini", "payeasy", "card"]


class PaymentMethodRead(BaseModel):
    method: Method
    name_ja: str
    min_amount: int
    max_amount: int
    chains: list[str] = []
