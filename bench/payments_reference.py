"""The bare reference for `bench/payments.py`: a FastAPI app with no kit.

The same database engine (`services.kit.db.create_engine`: the driver, pool and SQLite
pragmas), the same tables, and the same rows as one payments_mock konbini create (an
idempotency record, the payment, its history row, an audit outbox row, six store codes, the
stored response), written with SQLAlchemy Core in one transaction; reads select one payment
row and its refunds. No authentication, no middleware, no ORM, no problem rendering: what is
left is the floor the kit's work is compared with.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Header, Response
from pydantic import BaseModel
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.db import IMMEDIATE
from services.kit.tables import IdempotencyRecord, OutboxMessage
from services.payments_mock.models import Payment, PaymentCode, PaymentEvent, Refund

CHAINS = ("seven_eleven", "lawson", "familymart", "ministop", "daily_yamazaki", "seicomart")


class Create(BaseModel):
    amount: int
    method: str
    description: str
    reference: str | None = None


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def reference_app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    sqlite = engine.dialect.name == "sqlite"
    write_lock = asyncio.Lock()  # SQLite has one writer; without a queue, writers poll
    payments, codes, events = Payment.__table__, PaymentCode.__table__, PaymentEvent.__table__  # type: ignore[attr-defined]
    refunds, outbox, keys = Refund.__table__, OutboxMessage.__table__, IdempotencyRecord.__table__  # type: ignore[attr-defined]

    async def write(body: Create, key: str) -> bytes:
        now = datetime.now(UTC)
        payment_id = _id("pay")
        options = IMMEDIATE if sqlite else {}
        async with engine.connect() as conn:
            conn = await conn.execution_options(**options)
            async with conn.begin():
                await conn.execute(
                    insert(keys).values(
                        scope="svc-bench",
                        key=key,
                        request_hash="x" * 64,
                        state="in_flight",
                        locked_until=now + timedelta(seconds=60),
                        created_at=now,
                        expires_at=now + timedelta(hours=24),
                    )
                )
                await conn.execute(
                    insert(payments).values(
                        id=payment_id,
                        owner="svc-bench",
                        method=body.method,
                        status="awaiting_payment",
                        amount=body.amount,
                        currency="JPY",
                        amount_refunded=0,
                        description=body.description,
                        reference=body.reference,
                        metadata={},
                        late=False,
                        version=1,
                        created_at=now,
                        updated_at=now,
                        expires_at=now + timedelta(days=3),
                    )
                )
                await conn.execute(
                    insert(events).values(
                        id=_id("evt"),
                        payment_id=payment_id,
                        seq=1,
                        type="payment.created",
                        to_status="awaiting_payment",
                        actor="svc-bench",
                        data={},
                        occurred_at=now,
                    )
                )
                await conn.execute(
                    insert(outbox).values(
                        id=_id("aud"),
                        topic="audit",
                        payload={"action": "payment.created"},
                        headers={},
                        status="pending",
                        attempts=0,
                        max_attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                await conn.execute(
                    insert(codes),
                    [
                        {
                            "payment_id": payment_id,
                            "kind": chain,
                            "code": secrets.token_hex(6),
                            "confirmation": "123456",
                        }
                        for chain in CHAINS
                    ],
                )
                rendered = json.dumps(
                    {"id": payment_id, "status": "awaiting_payment", "amount": body.amount}
                ).encode()
                await conn.execute(
                    update(keys)
                    .where(keys.c.scope == "svc-bench", keys.c.key == key)
                    .values(state="completed", response_status=201, response_body=rendered.decode())
                )
        return rendered

    @app.post("/ref/payments", status_code=201)
    async def create(body: Create, idempotency_key: str = Header()) -> Response:
        if sqlite:
            async with write_lock:
                rendered = await write(body, idempotency_key)
        else:
            rendered = await write(body, idempotency_key)
        return Response(rendered, status_code=201, media_type="application/json")

    @app.get("/ref/payments/{payment_id}")
    async def read(payment_id: str) -> dict[str, Any]:
        async with engine.connect() as conn:
            row = (await conn.execute(select(payments).where(payments.c.id == payment_id))).one()
            found = (
                await conn.execute(select(refunds).where(refunds.c.payment_id == payment_id))
            ).all()
        return {**row._asdict(), "refunds": [r._asdict() for r in found]}

    return app
