"""The application layer: payments, their transitions, history and simulated payers.

Plain functions over a session (no FastAPI): routes parse and authorize, then call these;
jobs call them too. Every transition goes through `transition()`, which applies the domain state
machine, appends the history row, fans the event out to webhook endpoints and writes the audit
event, all in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from services.kit import audit
from services.kit.auth import Principal
from services.kit.clock import JST
from services.kit.errors import Conflict, NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.payments_mock import webhooks_service
from services.payments_mock.domain import calendar, cards, gs1_barcode, konbini, payeasy
from services.payments_mock.domain.digit_codes import derive_digits
from services.payments_mock.domain.lifecycle import (
    Channel,
    PaymentState,
    Transition,
    allowed_transitions,
    apply,
    check_refund,
    event_type,
)
from services.payments_mock.models import Payment, PaymentCode, PaymentEvent, Refund
from services.payments_mock.schemas import (
    MAX_AMOUNT,
    CardDetails,
    CardError,
    KonbiniDetails,
    KonbiniStore,
    PayEasyDetails,
    PayerRead,
    PaymentCreate,
    PaymentEventRead,
    PaymentRead,
    RefundCreate,
    RefundRead,
)
from services.payments_mock.settings import Settings

SERVICE = "payments_mock"
DEFAULT_EXPIRY_DAYS = 3
NOTICE_HOUR = time(9, 0)  # 確報 and refund transfers land at 09:00 JST on a business day


def code_secret(settings: Settings) -> bytes:
    return settings.code_secret.get_secret_value().encode()


def voucher_token(settings: Settings, payment_id: str) -> str:
    return _voucher_token(code_secret(settings), payment_id)


def _voucher_token(secret: bytes, payment_id: str) -> str:
    mac = hmac.new(secret, f"voucher\x00{payment_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def voucher_token_valid(settings: Settings, payment_id: str, token: str) -> bool:
    return hmac.compare_digest(voucher_token(settings, payment_id), token)


def check_era(value: date | datetime | None, field: str) -> None:
    """Dates from 2000 to 2099 only (the barcode's YYMMDD), which also keeps time-zone
    arithmetic away from datetime's limits."""
    if value is not None and not 2000 <= value.year <= 2099:
        raise UnprocessableContent(f"{field} must fall in the years 2000-2099", field=field)


def at_notice_hour(day: date) -> datetime:
    return datetime.combine(day, NOTICE_HOUR, tzinfo=JST)


def business_days_later(moment: datetime, days: int) -> datetime:
    return at_notice_hour(calendar.add_business_days(moment.astimezone(JST).date(), days))


# --- reading -------------------------------------------------------------------------------


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


async def refunds_of(session: AsyncSession, payment_id: str) -> list[Refund]:
    query = select(Refund).where(col(Refund.payment_id) == payment_id).order_by(col(Refund.id))
    return list((await session.exec(query)).all())


def to_read(settings: Settings, payment: Payment, refunds: Sequence[Refund] = ()) -> PaymentRead:
    state = PaymentState(payment.status)
    card = None
    if payment.method == "card":
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
            payment.amount - payment.amount_refunded
            if state in (PaymentState.SETTLED, PaymentState.PARTIALLY_REFUNDED)
            else 0
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
        allowed_transitions=[t.value for t in allowed_transitions(state)],
        konbini=konbini_details(settings, payment) if payment.method == "konbini" else None,
        payeasy=payeasy_details(settings, payment) if payment.method == "payeasy" else None,
        card=card,
        refunds=[RefundRead.model_validate(r, from_attributes=True) for r in refunds],
    )


async def read(session: AsyncSession, settings: Settings, payment: Payment) -> PaymentRead:
    return to_read(settings, payment, await refunds_of(session, payment.id))


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
    "after": col(Payment.id) < bindparam("after"),
}


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
    """The payments of a page (newest first, one more than the page size to tell whether another
    page follows) joined to their refunds. Built once per combination of conditions: building
    and keying the statement took longer than running it."""
    page_ids = (
        select(Payment.id)
        .where(col(Payment.owner) == bindparam("owner"))
        .where(*(_PAGE_CONDITIONS[name] for name in sorted(conditions)))
        .order_by(col(Payment.id).desc())
        .limit(bindparam("page_size", type_=Integer))
    )
    return _with_refunds(col(Payment.id).in_(page_ids))


async def list_payments(
    session: AsyncSession, filters: ListFilter, *, limit: int, after: str | None
) -> tuple[list[PaymentWithRefunds], bool]:
    """Newest first, `limit` at a time after the id `after`, each with its refunds (one query)."""
    conditions = _page_parameters(filters, after)
    query = _list_query(frozenset(conditions))
    params = {**conditions, "owner": filters.owner, "page_size": limit + 1}
    rows = await _fetch_with_refunds(session, query, params)
    return rows[:limit], len(rows) > limit


async def list_events(
    session: AsyncSession, payment_id: str, *, limit: int, after: int | None
) -> tuple[list[PaymentEventRead], bool]:
    query = select(PaymentEvent).where(col(PaymentEvent.payment_id) == payment_id)
    if after is not None:
        query = query.where(col(PaymentEvent.seq) > after)
    rows = list((await session.exec(query.order_by(col(PaymentEvent.seq)).limit(limit + 1))).all())
    items = [PaymentEventRead.model_validate(r, from_attributes=True) for r in rows[:limit]]
    return items, len(rows) > limit


# --- history and transitions ---------------------------------------------------------------


async def _record_event(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    type_: str,
    transition: Transition | None,
    from_status: str | None,
    actor: Principal | None,
    now: datetime,
    data: dict[str, Any],
    refunds: Sequence[Refund] | None = None,
) -> PaymentEvent:
    """`refunds`: the payment's refunds when the caller knows them (none, for a new payment),
    saving a query; the rows go out at the next flush, together."""
    payment.version += 1
    payment.updated_at = now
    session.add(payment)
    event = PaymentEvent(
        id=new_id("evt"),
        payment_id=payment.id,
        seq=payment.version,
        type=type_,
        transition=transition.value if transition else None,
        from_status=from_status,
        to_status=payment.status,
        actor=actor.sub if actor else None,
        data=data,
        occurred_at=now,
    )
    session.add(event)
    if refunds is None:
        refunds = await refunds_of(session, payment.id)
    snapshot = to_read(settings, payment, refunds).model_dump(mode="json")
    await webhooks_service.fan_out(
        session,
        owner=payment.owner,
        event_id=event.id,
        event_type=type_,
        data={"object": snapshot, **data},
        now=now,
    )
    await audit.record(
        session,
        actor,
        type_,
        payment.id,
        service=SERVICE,
        now=now,
        changes={"status": [from_status, payment.status], **data},
    )
    return event


async def transition(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    step: Transition,
    *,
    actor: Principal | None,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> PaymentEvent:
    """Applies `step` (IllegalTransition → 409 naming the state) and records it."""
    before = payment.status
    payment.status = apply(before, step).value
    return await _record_event(
        session,
        settings,
        payment,
        type_=event_type(step),
        transition=step,
        from_status=before,
        actor=actor,
        now=now,
        data=dict(data or {}),
    )


# --- creation ------------------------------------------------------------------------------


def expiry(body: PaymentCreate, now: datetime) -> datetime:
    if body.expires_at is not None and body.expires_after_days is not None:
        raise UnprocessableContent(
            "give expires_after_days or expires_at, not both", field="expires_at"
        )
    if body.expires_at is None:
        return calendar.expiry_for(now, body.expires_after_days or DEFAULT_EXPIRY_DAYS)
    raw = body.expires_at
    check_era(raw, "expires_at")
    if isinstance(raw, datetime) and raw.tzinfo is None and raw.time() == time(0):
        raw = raw.date()  # a plain YYYY-MM-DD (pydantic reads it as a naive midnight)
    if isinstance(raw, datetime):
        if raw.tzinfo is None:
            raise UnprocessableContent("expires_at needs a UTC offset", field="expires_at")
        last_day = raw.astimezone(JST).date()
    else:
        last_day = raw
    today = now.astimezone(JST).date()
    days = (last_day - today).days
    if not 0 <= days <= calendar.MAX_EXPIRY_DAYS:
        raise UnprocessableContent(
            f"expires_at must fall between today and {calendar.MAX_EXPIRY_DAYS} days from today"
            " (JST)",
            field="expires_at",
        )
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=JST)


def _check_method_fields(body: PaymentCreate) -> None:
    if body.method != "card" and body.amount > MAX_AMOUNT:
        raise UnprocessableContent(
            f"{body.method} payments take 1 to {MAX_AMOUNT:,} yen", field="amount"
        )
    if body.method == "card" and body.card is None:
        raise UnprocessableContent("a card payment needs card.number", field="card")
    if body.method != "card" and body.card is not None:
        raise UnprocessableContent("card is only for method card", field="card")


async def create_payment(
    session: AsyncSession,
    settings: Settings,
    body: PaymentCreate,
    *,
    actor: Principal,
    now: datetime,
) -> Payment:
    _check_method_fields(body)
    expires_at = expiry(body, now)
    outcome = cards.outcome_for(body.card.number) if body.card is not None else None
    payment = Payment(
        id=new_id("pay"),
        owner=actor.sub,
        method=body.method,
        status=PaymentState.AWAITING_PAYMENT.value,
        amount=body.amount,
        description=body.description,
        payer_name=body.payer.name,
        payer_email=body.payer.email,
        payer_phone=body.payer.phone,
        reference=body.reference,
        metadata_=dict(body.metadata),
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
    )
    secret = code_secret(settings)
    if body.method == "konbini":
        slip = gs1_barcode.build(
            company_code=settings.company_code,
            free_field=derive_digits(
                secret, "konbini:barcode", payment.id, gs1_barcode.FREE_FIELD_LENGTH
            ),
            deadline=expires_at.astimezone(JST).date(),
            amount=body.amount,
        )
        payment.barcode = slip.digits
    session.add(payment)
    codes: list[dict[str, Any]] = []
    if body.method == "konbini":
        codes = [
            {
                "payment_id": payment.id,
                "kind": chain.value,
                "code": i.payment_code,
                "confirmation": i.confirmation_number,
            }
            for chain, i in konbini.all_instructions(payment.id, secret).items()
        ]
    elif body.method == "payeasy":
        numbers = payeasy_numbers(settings, payment.id)
        codes = [
            {
                "payment_id": payment.id,
                "kind": "payeasy",
                "code": numbers.customer_number,
                "confirmation": numbers.confirmation_number,
            }
        ]
    await _record_event(
        session,
        settings,
        payment,
        type_="payment.created",
        transition=None,
        from_status=None,
        actor=actor,
        now=now,
        data={},
        refunds=(),
    )
    if codes:  # one executemany once the payment row is in; nothing reads their ids back
        await session.flush()
        await (await session.connection()).execute(insert(PaymentCode), codes)
    if outcome is not None:
        await _charge(session, settings, payment, outcome, actor=actor, now=now)
    return payment


async def _charge(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    outcome: cards.CardOutcome,
    *,
    actor: Principal,
    now: datetime,
) -> None:
    payment.card_brand = outcome.brand.value if outcome.brand else None
    payment.card_last4 = outcome.last4
    if outcome.kind is cards.OutcomeKind.SUCCEEDED:
        payment.card_error = None
        await _mark_paid(
            session,
            settings,
            payment,
            Transition.PAY,
            paid_at=now,
            via=payment.card_brand or "card",
            actor=actor,
            now=now,
        )
        return
    payment.card_error = CardError(
        kind=outcome.kind.value,
        decline_code=outcome.decline_code,
        message_ja=outcome.message_ja,
        retryable=outcome.retryable,
    ).model_dump()
    payment.updated_at = now
    session.add(payment)
    await session.flush()


async def card_attempt(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    number: str,
    *,
    actor: Principal,
    now: datetime,
) -> Payment:
    if payment.method != "card":
        raise Conflict("only card payments take card attempts", current_state=payment.status)
    outcome = cards.outcome_for(number)
    if payment.status != PaymentState.AWAITING_PAYMENT:
        apply(payment.status, Transition.PAY)  # raises IllegalTransition naming the state
    await _charge(session, settings, payment, outcome, actor=actor, now=now)
    return payment


# --- paying --------------------------------------------------------------------------------


async def _mark_paid(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    step: Transition,
    *,
    paid_at: datetime,
    via: str,
    actor: Principal | None,
    now: datetime,
) -> PaymentEvent:
    payment.paid_at = paid_at
    payment.received_at = now
    payment.paid_via = via
    payment.late = step is Transition.LATE_PAY
    payment.settles_at = business_days_later(now, settings.settlement_business_days)
    return await transition(
        session,
        settings,
        payment,
        step,
        actor=actor,
        now=now,
        data={"late": payment.late, "paid_via": via, "paid_at": paid_at.isoformat()},
    )


async def pay_at_register(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    paid_at: datetime,
    via: str,
    actor: Principal | None,
    now: datetime,
) -> Payment:
    """A payer paid at `paid_at`; the notice reaches us `now`. Before the deadline but
    arriving after the payment expired, it is a late payment (still paid)."""
    check_era(paid_at, "paid_at")
    if paid_at > now:
        raise UnprocessableContent("paid_at cannot be in the future", field="paid_at")
    if paid_at < payment.created_at:
        raise UnprocessableContent("paid_at is before the payment was created", field="paid_at")
    if paid_at > payment.expires_at:
        raise Conflict(
            "the payment had expired when it was presented; the store refuses it",
            current_state=PaymentState.EXPIRED.value,
            transition=Transition.PAY.value,
        )
    step = Transition.LATE_PAY if payment.status == PaymentState.EXPIRED else Transition.PAY
    await _mark_paid(
        session, settings, payment, step, paid_at=paid_at, via=via, actor=actor, now=now
    )
    return payment


async def _by_code(
    session: AsyncSession, kind: str, code: str, confirmation: str | None
) -> Payment | None:
    row = (
        await session.exec(
            select(PaymentCode).where(col(PaymentCode.kind) == kind, col(PaymentCode.code) == code)
        )
    ).one_or_none()
    if row is None or not hmac.compare_digest(row.confirmation or "", confirmation or ""):
        return None
    return await load(session, row.payment_id, for_update=True)


async def find_konbini(
    session: AsyncSession, chain: str, code: str, confirmation: str | None
) -> Payment:
    lookup = konbini.parse_lookup(chain, code, confirmation)
    payment: Payment | None
    if lookup.kind == "barcode":
        assert lookup.barcode is not None
        found = (
            await session.exec(
                select(Payment.id).where(col(Payment.barcode) == lookup.barcode.digits)
            )
        ).one_or_none()
        payment = await load(session, found, for_update=True) if found is not None else None
    else:
        assert lookup.payment_code is not None
        payment = await _by_code(
            session, lookup.chain.value, lookup.payment_code, lookup.confirmation_number
        )
    if payment is None or payment.method != "konbini":
        raise NotFound("no convenience-store payment has these numbers")
    return payment


async def find_payeasy(
    session: AsyncSession, settings: Settings, institution: str, customer: str, confirmation: str
) -> Payment:
    presented = payeasy.parse_numbers(institution, customer, confirmation)
    if presented.institution_number != settings.payeasy_institution_number:
        raise NotFound("no collecting institution has this number")
    payment = await _by_code(
        session, "payeasy", presented.customer_number, presented.confirmation_number
    )
    if payment is None or payment.method != "payeasy":
        raise NotFound("no Pay-easy payment has these numbers")
    payeasy.require_match(payeasy_numbers(settings, payment.id), presented)
    return payment


async def late_payment(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    chain: str,
    minutes_before_expiry: int,
    actor: Principal | None,
    now: datetime,
) -> Payment:
    """The payer paid at the register shortly before the deadline; the notice comes now,
    after the payment expired."""
    if payment.method != "konbini":
        raise Conflict("late payments happen at convenience stores", current_state=payment.status)
    if payment.status != PaymentState.EXPIRED:
        apply(payment.status, Transition.LATE_PAY)  # 409 naming the current state
    paid_at = max(payment.created_at, payment.expires_at - timedelta(minutes=minutes_before_expiry))
    return await pay_at_register(
        session, settings, payment, paid_at=paid_at, via=chain, actor=actor, now=now
    )


# --- cancel, refund ------------------------------------------------------------------------


async def cancel(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    reason: str | None,
    actor: Principal,
    now: datetime,
) -> Payment:
    payment.canceled_at = now
    await transition(
        session, settings, payment, Transition.CANCEL, actor=actor, now=now, data={"reason": reason}
    )
    return payment


async def refund(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    body: RefundCreate,
    *,
    actor: Principal,
    now: datetime,
) -> Payment:
    apply(payment.status, Transition.PARTIAL_REFUND)  # refunds start once settled; 409 otherwise
    plan = check_refund(
        payment.amount,
        payment.amount_refunded,
        body.amount,
        body.expected_refundable,
        channel=Channel(payment.method),
    )
    card = plan.method.value == "card"
    completes_at = now if card else business_days_later(now, settings.refund_business_days)
    refund_row = Refund(
        id=new_id("re"),
        payment_id=payment.id,
        amount=plan.amount,
        method=plan.method.value,
        status="completed" if card else "pending",
        reason=body.reason,
        created_at=now,
        completes_at=completes_at,
        completed_at=now if card else None,
    )
    session.add(refund_row)
    payment.amount_refunded += plan.amount
    await session.flush()
    await transition(
        session,
        settings,
        payment,
        plan.transition,
        actor=actor,
        now=now,
        data={
            "refund_id": refund_row.id,
            "refund_amount": plan.amount,
            "refund_method": plan.method.value,
            "refundable_after": plan.refundable_after,
        },
    )
    return payment


# --- scheduled work ------------------------------------------------------------------------


async def expire_payment(
    session: AsyncSession, settings: Settings, payment: Payment, *, now: datetime
) -> Payment:
    if payment.expires_at > now:
        raise Conflict("the payment has not reached its deadline yet", current_state=payment.status)
    payment.expired_at = now
    await transition(session, settings, payment, Transition.EXPIRE, actor=None, now=now)
    return payment


async def _due(
    session: AsyncSession, state: PaymentState, deadline: Any, now: datetime
) -> list[Payment]:
    """A batch of payments in `state` whose `deadline` column has passed, locked for the sweep."""
    query = (
        select(Payment)
        .where(col(Payment.status) == state.value)
        .where(deadline <= now)
        .order_by(deadline)
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    return list((await session.exec(query)).all())


async def expire_due(session: AsyncSession, settings: Settings, now: datetime) -> int:
    due = await _due(session, PaymentState.AWAITING_PAYMENT, col(Payment.expires_at), now)
    for payment in due:
        await expire_payment(session, settings, payment, now=now)
    return len(due)


async def settle_due(session: AsyncSession, settings: Settings, now: datetime) -> int:
    due = await _due(session, PaymentState.PAID, col(Payment.settles_at), now)
    for payment in due:
        payment.settled_at = now
        await transition(session, settings, payment, Transition.SETTLE, actor=None, now=now)
    refunds = list(
        (
            await session.exec(
                select(Refund)
                .where(col(Refund.status) == "pending", col(Refund.completes_at) <= now)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    for row in refunds:
        row.status = "completed"
        row.completed_at = now
        session.add(row)
        await audit.record(
            session,
            None,
            "refund.completed",
            row.id,
            service=SERVICE,
            now=now,
            changes={"status": ["pending", "completed"], "payment_id": row.payment_id},
        )
    await session.flush()
    return len(due) + len(refunds)


def check_expirable(payment: Payment) -> None:
    """409 naming the state unless the payment can expire (before the clock is moved)."""
    apply(payment.status, Transition.EXPIRE)
