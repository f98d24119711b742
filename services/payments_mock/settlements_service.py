"""Settlement (what was paid and settled on a JST day, by channel and chain) and
reconciliation (late payments, refunds still being transferred)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.clock import JST
from services.payments_mock.domain.lifecycle import RefundStatus
from services.payments_mock.models import Payment, Refund
from services.payments_mock.schemas import (
    Discrepancy,
    DiscrepancyReport,
    SettlementLine,
    SettlementReport,
    SettlementTotals,
)

CSV_COLUMNS = (
    "date",
    "channel",
    "via",
    "paid_count",
    "paid_amount",
    "settled_count",
    "settled_amount",
    "refunded_amount",
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0, 0), tzinfo=JST)
    return start, start + timedelta(days=1)


async def settlement(session: AsyncSession, owner: str, day: date) -> SettlementReport:
    start, end = day_bounds(day)
    lines: dict[tuple[str, str | None], dict[str, int]] = {}

    def line(method: str, via: str | None) -> dict[str, int]:
        return lines.setdefault(
            (method, via),
            dict.fromkeys(
                (
                    "paid_count",
                    "paid_amount",
                    "settled_count",
                    "settled_amount",
                    "refunded_amount",
                ),
                0,
            ),
        )

    mine = col(Payment.owner) == owner
    paid = await session.exec(
        select(Payment).where(mine, col(Payment.paid_at) >= start, col(Payment.paid_at) < end)
    )
    for payment in paid.all():
        entry = line(payment.method, payment.paid_via)
        entry["paid_count"] += 1
        entry["paid_amount"] += payment.amount
    settled = await session.exec(
        select(Payment).where(mine, col(Payment.settled_at) >= start, col(Payment.settled_at) < end)
    )
    for payment in settled.all():
        entry = line(payment.method, payment.paid_via)
        entry["settled_count"] += 1
        entry["settled_amount"] += payment.amount
    refunds = await session.exec(
        select(Refund, Payment)
        .join(Payment, col(Payment.id) == col(Refund.payment_id))
        .where(mine, col(Refund.created_at) >= start, col(Refund.created_at) < end)
    )
    for refund, payment in refunds.all():
        line(payment.method, payment.paid_via)["refunded_amount"] += refund.amount
    items = [
        SettlementLine(channel=method, via=via, **values)
        for (method, via), values in sorted(
            lines.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
        )
    ]
    totals = SettlementTotals(
        paid_count=sum(i.paid_count for i in items),
        paid_amount=sum(i.paid_amount for i in items),
        settled_count=sum(i.settled_count for i in items),
        settled_amount=sum(i.settled_amount for i in items),
        refunded_amount=sum(i.refunded_amount for i in items),
    )
    return SettlementReport(date=day, lines=items, totals=totals)


def settlement_csv(report: SettlementReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    rows: list[tuple[str, str, int, int, int, int, int]] = [
        (
            line.channel,
            line.via or "",
            line.paid_count,
            line.paid_amount,
            line.settled_count,
            line.settled_amount,
            line.refunded_amount,
        )
        for line in report.lines
    ]
    total = report.totals
    rows.append(
        (
            "total",
            "",
            total.paid_count,
            total.paid_amount,
            total.settled_count,
            total.settled_amount,
            total.refunded_amount,
        )
    )
    for row in rows:
        writer.writerow((report.date.isoformat(), *row))
    return buffer.getvalue()


async def discrepancies(session: AsyncSession, owner: str) -> DiscrepancyReport:
    items: list[Discrepancy] = []
    late = await session.exec(
        select(Payment)
        .where(col(Payment.owner) == owner, col(Payment.late))
        .order_by(col(Payment.id))
        .limit(1000)
    )
    for payment in late.all():
        items.append(
            Discrepancy(
                kind="late_payment",
                payment_id=payment.id,
                reference=payment.reference,
                amount=payment.amount,
                expires_at=payment.expires_at.astimezone(JST),
                paid_at=payment.paid_at,
                received_at=payment.received_at,
            )
        )
    pending = await session.exec(
        select(Refund, Payment)
        .join(Payment, col(Payment.id) == col(Refund.payment_id))
        .where(col(Payment.owner) == owner, col(Refund.status) == RefundStatus.PENDING)
        .order_by(col(Refund.id))
        .limit(1000)
    )
    for refund, payment in pending.all():
        items.append(
            Discrepancy(
                kind="refund_pending",
                payment_id=payment.id,
                reference=payment.reference,
                amount=refund.amount,
                refund_id=refund.id,
                completes_at=refund.completes_at.astimezone(JST),
            )
        )
    return DiscrepancyReport(items=items)
