"""Reading payments as the API shows them: the voucher token, the konbini and Pay-easy
details (built once per payment and cached), one payment with its refunds, and the pages of
the list and of the history. Plain functions over a session."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from services.kit.clock import JST
from services.kit.errors import NotFound
from services.kit.pagination import (
    after_position,
    cursor_position,
    fetch_size,
    keyset_page,
    order_by,
    page_of,
)
from services.payments_mock.domain import calendar, gs1_barcode, konbini, payeasy
from services.payments_mock.domain.lifecycle import (
    MAY_HAVE_REFUNDS,
    PAYMENTS,
    REFUNDABLE_STATES,
    Channel,
    PaymentState,
    RefundMethod,
    RefundStatus,
)
from services.payments_mock.models import Payment, PaymentEvent, Refund
from services.payments_mock.schemas import (
    CardDetails,
    CardError,
    KonbiniDetails,
    KonbiniStore,
    PayEasyDetails,
    PayerRead,
    PaymentEventRead,
    PaymentRead,
    RefundRead,
    RegisterReceipt,
)
from services.payments_mock.settings import Settings


def code_secret(settings: Settings) -> bytes:
    return settings.code_secret.get_secret_value().encode()


def voucher_token(settings: Settings, payment_id: str) -> str:
    return _voucher_token(code_secret(settings), payment_id)


def _voucher_token(secret: bytes, payment_id: str) -> str:
    mac = hmac.new(secret, f"voucher\x00{payment_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def voucher_token_valid(settings: Settings, payment_id: str, token: str) -> bool:
    return hmac.compare_digest(voucher_token(settings, payment_id), token)


# A payment's konbini and Pay-easy details follow from its id, barcode and deadline, which never
# change, and they cost more than the rest of a read (HMACs, check digits, per-chain steps);
# so they are built once per payment and shared by later reads (~11 KB each).
DETAILS_CACHE_SIZE = 1024


def konbini_details(settings: Settings, payment: Payment) -> KonbiniDetails:
    assert payment.barcode is not None
    return _konbini_details(
        code_secret(settings),
        settings.voucher_base_url,
        payment.id,
        payment.barcode,
        payment.expires_at,
    )


@lru_cache(maxsize=DETAILS_CACHE_SIZE)
def _konbini_details(
    secret: bytes, voucher_base_url: str, payment_id: str, barcode: str, expires_at: datetime
) -> KonbiniDetails:
    slip = gs1_barcode.parse(barcode)
    stores = [
        KonbiniStore(
            chain=i.chain.value,
            chain_name=i.chain_name,
            payment_code=i.payment_code,
            payment_code_label=i.payment_code_label,
            confirmation_number=i.confirmation_number,
            confirmation_label=i.confirmation_label,
            steps=list(i.steps),
        )
        for i in konbini.all_instructions(payment_id, secret).values()
    ]
    token = _voucher_token(secret, payment_id)
    return KonbiniDetails(
        barcode=slip.digits,
        barcode_human_readable=slip.human_readable,
        voucher_url=f"{voucher_base_url}/v1/payments/{payment_id}/voucher?token={token}",
        deadline_ja=calendar.format_deadline_ja(expires_at),
        stores=stores,
    )


def payeasy_numbers(settings: Settings, payment_id: str) -> payeasy.PayEasyNumbers:
    return payeasy.numbers_for(
        settings.payeasy_institution_number, payment_id, code_secret(settings)
    )


def payeasy_details(settings: Settings, payment: Payment) -> PayEasyDetails:
    return _payeasy_details(code_secret(settings), settings.payeasy_institution_number, payment.id)


@lru_cache(maxsize=DETAILS_CACHE_SIZE)
def _payeasy_details(secret: bytes, institution_number: str, payment_id: str) -> PayEasyDetails:
    numbers = payeasy.numbers_for(institution_number, payment_id, secret)
    return PayEasyDetails(
        institution_number=numbers.institution_number,
        customer_number=numbers.customer_number,
        confirmation_number=numbers.confirmation_number,
        atm_steps=list(numbers.atm_steps()),
        net_banking_steps=list(numbers.net_banking_steps()),
    )


def _jst(moment: datetime | None) -> datetime | None:
    return moment.astimezone(JST) if moment is not None else None


async def refunds_of(session: AsyncSession, payment: Payment) -> list[Refund]:
    if PaymentState(payment.status) not in MAY_HAVE_REFUNDS:
        return []
    query = select(Refund).where(col(Refund.payment_id) == payment.id).order_by(col(Refund.id))
    return list((await session.exec(query)).all())


def refund_read(refund: Refund) -> RefundRead:
    """A refund as every read shows it: `completes_at` (the business day the bank transfer
    lands) in JST, like `settles_at`, whether the row is fresh or read back."""
    return RefundRead(
        id=refund.id,
        amount=refund.amount,
        method=RefundMethod(refund.method),
        status=RefundStatus(refund.status),
        reason=refund.reason,
        created_at=refund.created_at,
        completes_at=refund.completes_at.astimezone(JST),
        completed_at=refund.completed_at,
    )


def to_read(settings: Settings, payment: Payment, refunds: Sequence[Refund] = ()) -> PaymentRead:
    state = PaymentState(payment.status)
    card = None
    if payment.method == Channel.CARD:
        error = CardError.model_validate(payment.card_error) if payment.card_error else None
        card = CardDetails(brand=payment.card_brand, last4=payment.card_last4, last_error=error)
    return PaymentRead(
        id=payment.id,
        status=payment.status,
        method=payment.method,
        amount=payment.amount,
        currency="JPY",
        amount_refunded=payment.amount_refunded,
        amount_refundable=(
            payment.amount - payment.amount_refunded if state in REFUNDABLE_STATES else 0
        ),
        description=payment.description,
        payer=PayerRead(
            name=payment.payer_name, email=payment.payer_email, phone=payment.payer_phone
        ),
        reference=payment.reference,
        metadata=payment.metadata_,
        late=payment.late,
        paid_via=payment.paid_via,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        expires_at=payment.expires_at.astimezone(JST),
        paid_at=payment.paid_at,
        received_at=payment.received_at,
        settles_at=_jst(payment.settles_at),
        settled_at=payment.settled_at,
        expired_at=payment.expired_at,
        canceled_at=payment.canceled_at,
        allowed_transitions=[t.value for t in PAYMENTS.allowed(state)],
        konbini=konbini_details(settings, payment) if payment.method == Channel.KONBINI else None,
        payeasy=payeasy_details(settings, payment) if payment.method == Channel.PAYEASY else None,
        card=card,
        refunds=[refund_read(r) for r in refunds],
    )


def receipt(payment: Payment) -> RegisterReceipt:
    """The payer's receipt of a payment just made at a register, ATM or net bank."""
    if payment.paid_at is None or payment.received_at is None or payment.paid_via is None:
        raise ValueError(f"payment {payment.id} has not been paid")
    return RegisterReceipt(
        payment_id=payment.id,
        method=Channel(payment.method),
        paid_via=payment.paid_via,
        amount=payment.amount,
        currency="JPY",
        paid_at=payment.paid_at.astimezone(JST),
        received_at=payment.received_at.astimezone(JST),
        late=payment.late,
    )


async def read(session: AsyncSession, settings: Settings, payment: Payment) -> PaymentRead:
    return to_read(settings, payment, await refunds_of(session, payment))


@dataclass(frozen=True, slots=True)
class PaymentWithRefunds:
    payment: Payment
    refunds: list[Refund]


def _with_refunds(payments: ColumnElement[bool]) -> Select[Payment, Refund]:
    """The payments matching `payments`, newest first, each joined to its refunds."""
    return (
        select(Payment, Refund)
        .outerjoin(Refund, col(Refund.payment_id) == col(Payment.id))
        .where(payments)
        .order_by(col(Payment.id).desc(), col(Refund.id))
    )


async def _fetch_with_refunds(
    session: AsyncSession, query: Select[Payment, Refund], params: dict[str, Any]
) -> list[PaymentWithRefunds]:
    """Runs a `_with_refunds` query: each payment once, in order, with its refunds."""
    found: dict[str, PaymentWithRefunds] = {}
    for payment, refund in (await session.exec(query, params=params)).all():
        entry = found.setdefault(payment.id, PaymentWithRefunds(payment, []))
        if refund is not None:
            entry.refunds.append(refund)
    return list(found.values())


_ONE_WITH_REFUNDS = _with_refunds(col(Payment.id) == bindparam("payment_id"))


async def read_owned(
    session: AsyncSession, settings: Settings, payment_id: str, owner: str
) -> PaymentRead:
    """The caller's payment as the API shows it, in one query; 404 like `get_owned`."""
    found = await _fetch_with_refunds(session, _ONE_WITH_REFUNDS, {"payment_id": payment_id})
    if not found or found[0].payment.owner != owner:
        raise NotFound(f"no payment {payment_id}")
    return to_read(settings, found[0].payment, found[0].refunds)


_OWNED_REFUND = (
    select(Refund)
    .join(Payment, col(Payment.id) == col(Refund.payment_id))
    .where(
        col(Refund.id) == bindparam("refund_id"),
        col(Refund.payment_id) == bindparam("payment_id"),
        col(Payment.owner) == bindparam("owner"),
    )
)


async def read_refund(
    session: AsyncSession, payment_id: str, refund_id: str, owner: str
) -> RefundRead:
    """One refund of the caller's payment, as the payment's `refunds` show it; 404 when the
    refund, its payment or the caller's ownership is missing, alike."""
    params = {"refund_id": refund_id, "payment_id": payment_id, "owner": owner}
    refund = (await session.exec(_OWNED_REFUND, params=params)).one_or_none()
    if refund is None:
        raise NotFound(f"no refund {refund_id} of payment {payment_id}")
    return refund_read(refund)


async def load(session: AsyncSession, payment_id: str, *, for_update: bool) -> Payment:
    """The payment as the database has it now (locked if `for_update`), or 404."""
    query = select(Payment).where(col(Payment.id) == payment_id)
    if for_update:
        query = query.with_for_update()
    payment = (await session.exec(query.execution_options(populate_existing=True))).one_or_none()
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


async def get_owned(
    session: AsyncSession, payment_id: str, owner: str, *, for_update: bool = False
) -> Payment:
    """The caller's payment, or 404 (never a 403: other clients' ids are not revealed)."""
    payment = await load(session, payment_id, for_update=for_update)
    if payment.owner != owner:
        raise NotFound(f"no payment {payment_id}")
    return payment


@dataclass(frozen=True, slots=True)
class ListFilter:
    owner: str
    reference: str | None = None
    status: str | None = None
    method: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


# The conditions a list page may add, as bound parameters named after the filter setting each.
_PAGE_CONDITIONS: dict[str, ColumnElement[bool]] = {
    "reference": col(Payment.reference) == bindparam("reference"),
    "status": col(Payment.status) == bindparam("status"),
    "method": col(Payment.method) == bindparam("method"),
    "created_from": col(Payment.created_at) >= bindparam("created_from"),
    "created_to": col(Payment.created_at) < bindparam("created_to"),
    "after": after_position(col(Payment.id), bindparam("after"), descending=True),
}
_LIST_KEY = col(Payment.id)  # newest first


def _page_parameters(filters: ListFilter, after: str | None) -> dict[str, Any]:
    """The conditions in use and their values, by the names of their bound parameters."""
    values = {
        "reference": filters.reference,
        "status": filters.status,
        "method": filters.method,
        "created_from": filters.created_from,
        "created_to": filters.created_to,
        "after": after,
    }
    return {name: value for name, value in values.items() if value is not None}


@lru_cache(maxsize=1 << len(_PAGE_CONDITIONS))  # every combination
def _list_query(conditions: frozenset[str]) -> Select[Payment, Refund]:
    """The payments of a page (newest first, `fetch_size` of them to tell whether another page
    follows) joined to their refunds. Built once per combination of conditions: building and
    keying the statement took longer than running it."""
    page_ids = (
        select(Payment.id)
        .where(col(Payment.owner) == bindparam("owner"))
        .where(*(_PAGE_CONDITIONS[name] for name in sorted(conditions)))
        .order_by(*order_by(_LIST_KEY, descending=True))
        .limit(bindparam("page_size", type_=Integer))
    )
    return _with_refunds(col(Payment.id).in_(page_ids))


async def list_payments(
    session: AsyncSession, filters: ListFilter, *, limit: int, cursor: str | None
) -> tuple[list[PaymentWithRefunds], str | None]:
    """Newest first, a page of `limit` after `cursor`, each with its refunds (one query)."""
    conditions = _page_parameters(filters, cursor_position(cursor, _LIST_KEY))
    query = _list_query(frozenset(conditions))
    params = {**conditions, "owner": filters.owner, "page_size": fetch_size(limit)}
    rows = await _fetch_with_refunds(session, query, params)
    return page_of(rows, limit, lambda row: row.payment.id)


async def list_events(
    session: AsyncSession, payment_id: str, *, limit: int, cursor: str | None
) -> tuple[list[PaymentEventRead], str | None]:
    """The payment's history, oldest first."""
    query = select(PaymentEvent).where(col(PaymentEvent.payment_id) == payment_id)
    rows, next_cursor = await keyset_page(
        session, query, col(PaymentEvent.seq), limit=limit, cursor=cursor
    )
    return [PaymentEventRead.model_validate(r, from_attributes=True) for r in rows], next_cursor
