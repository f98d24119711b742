"""A payment's konbini and Pay-easy details are built once and shared by later reads: they must
still follow the settings they are read with, and nobody may change a shared copy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.payments_mock import payment_reads as reads
from services.payments_mock.domain import calendar, gs1_barcode
from services.payments_mock.models import Payment
from services.payments_mock.settings import Settings

DB = "sqlite+aiosqlite:///./var/unused.db"
CREATED = datetime(2026, 4, 27, 1, 0, tzinfo=UTC)


def _payment(method: str, **fields: Any) -> Payment:
    return Payment(
        id="pay_01JD0000000000000000000000",
        owner="svc-test",
        method=method,
        status="awaiting_payment",
        amount=4500,
        description="住民票の写し",
        created_at=CREATED,
        updated_at=CREATED,
        expires_at=calendar.expiry_for(CREATED, 3),
        **fields,
    )


def _barcode(settings: Settings, amount: int = 4500) -> str:
    return gs1_barcode.build(
        company_code=settings.company_code,
        free_field="1",
        deadline=datetime(2026, 4, 30).date(),
        amount=amount,
    ).digits


def test_konbini_details_follow_the_secret_and_the_voucher_host_they_are_read_with() -> None:
    first = Settings(database_url=DB, public_url="https://pay.example.jp")
    second = Settings(database_url=DB, public_url="https://other.example.jp", code_secret="x" * 32)
    payment = _payment("konbini", barcode=_barcode(first))

    read_first = reads.konbini_details(first, payment)
    read_second = reads.konbini_details(second, payment)

    assert read_first.voucher_url.startswith("https://pay.example.jp/v1/payments/pay_")
    assert read_second.voucher_url.startswith("https://other.example.jp/v1/payments/pay_")
    assert [s.payment_code for s in read_first.stores] != [
        s.payment_code for s in read_second.stores
    ]
    assert reads.konbini_details(first, payment) == read_first
    assert reads.voucher_token_valid(first, payment.id, read_first.voucher_url[-32:])


def test_konbini_details_follow_the_barcode_and_the_deadline() -> None:
    settings = Settings(database_url=DB)
    payment = _payment("konbini", barcode=_barcode(settings))
    before = reads.konbini_details(settings, payment)

    payment.barcode = _barcode(settings, amount=5000)
    payment.expires_at = calendar.expiry_for(CREATED, 4)
    after = reads.konbini_details(settings, payment)

    assert after.barcode == payment.barcode != before.barcode
    assert after.deadline_ja == "2026年5月1日（金）23:59"
    assert before.deadline_ja == "2026年4月30日（木）23:59"


def test_payeasy_details_follow_the_institution_number() -> None:
    first = Settings(database_url=DB)
    second = Settings(database_url=DB, payeasy_institution_number="12345")
    payment = _payment("payeasy")

    assert reads.payeasy_details(first, payment).institution_number == "58091"
    assert reads.payeasy_details(second, payment).institution_number == "12345"


def test_shared_details_cannot_be_changed() -> None:
    settings = Settings(database_url=DB)
    konbini = reads.konbini_details(settings, _payment("konbini", barcode=_barcode(settings)))
    payeasy = reads.payeasy_details(settings, _payment("payeasy"))

    with pytest.raises(ValidationError):
        konbini.voucher_url = "https://evil.example/"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        konbini.stores[0].payment_code = "0"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        payeasy.customer_number = "0"  # type: ignore[misc]
