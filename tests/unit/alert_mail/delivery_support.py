"""Helpers of the delivery tests: subscribers and a published alert written straight into the
database (fan-out is the real one), the deliveries as stored, and a service whose sending
workers the test drives itself (`run_once`), so every step is deterministic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from deploy.mailsink import MailSink
from services.alert_mail.delivery.fanout import fan_out
from services.alert_mail.delivery.hooks import delivery_worker
from services.alert_mail.delivery.worker import DeliveryWorker
from services.alert_mail.models import (
    Alert,
    Delivery,
    Subscription,
    SubscriptionCategory,
    SubscriptionDistrict,
)
from services.kit.db import Database
from services.kit.ids import new_id
from tests.support.apps import running
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.conftest import AlertMail, make_app, seed_demo_city

CONTENT: dict[str, Any] = {
    "ja": {
        "headline": "中央地区に避難指示",
        "body": "川の水位が上がっています。",
        "instruction": "直ちに中央小学校へ避難してください。",
    },
    "ja-plain": {
        "headline": "中央地区（ちく）の 人は 逃げて ください",
        "body": "川の 水が 増えて います。",
        "instruction": "中央小学校（ちゅうおうしょうがっこう）へ 行って ください。",
    },
    "en": {
        "headline": "Evacuation order for Chuo",
        "body": "The river is rising.",
        "instruction": "Go to Chuo Elementary School now.",
    },
}


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    language: str = "ja"
    plain: bool = False
    districts: tuple[str, ...] = ()
    categories: tuple[str, ...] = ("disaster",)
    status: str = "active"
    hard_bounces: int = 0
    link_version: int = 0


async def add_subscribers(db: Database, people: Sequence[Person], now: datetime) -> list[str]:
    ids = [f"sub_{n:06d}_{p.email.split('@')[0][:20]}" for n, p in enumerate(people)]
    async with db.session() as session:
        for sub_id, person in zip(ids, people, strict=True):
            session.add(
                Subscription(
                    id=sub_id,
                    email=person.email,
                    status=person.status,
                    language=person.language,
                    plain_japanese=person.plain,
                    hard_bounces=person.hard_bounces,
                    link_version=person.link_version,
                    created_at=now,
                    updated_at=now,
                    confirmed_at=now,
                )
            )
        await session.flush()
        for sub_id, person in zip(ids, people, strict=True):
            for category in person.categories:
                session.add(SubscriptionCategory(subscription_id=sub_id, category=category))
            for district in person.districts:
                session.add(SubscriptionDistrict(subscription_id=sub_id, district=district))
    return ids


async def publish(
    db: Database,
    now: datetime,
    *,
    alert_id: str | None = None,
    districts: Sequence[str] = ("chuo",),
    content: dict[str, Any] | None = None,
) -> Alert:
    """An alert in `sending` with its deliveries fanned out, as publishing leaves it."""
    alert_id = alert_id or new_id("alt")
    alert = Alert(
        id=alert_id,
        status="sending",
        category="disaster",
        districts=list(districts),
        severity="Severe",
        urgency="Immediate",
        certainty="Observed",
        content=content or CONTENT,
        department="bosai",
        fingerprint=alert_id.ljust(64, "0")[:64],
        created_by="stf_author",
        approved_by="stf_approver",
        created_at=now,
        updated_at=now,
        sent_at=now,
        expires_at=now + timedelta(hours=6),
    )
    async with db.session() as session:
        session.add(alert)
        await session.flush()
        alert.recipients = await fan_out(session, alert, now)
    return alert


async def deliveries(db: Database, **where: Any) -> list[Delivery]:
    async with db.session(write=False) as session:
        query = select(Delivery).order_by(col(Delivery.id))
        for name, value in where.items():
            query = query.where(getattr(Delivery, name) == value)
        return list((await session.exec(query)).all())


async def by_email(db: Database) -> dict[str, Delivery]:
    return {d.email: d for d in await deliveries(db)}


@dataclass
class Quiet(AlertMail):
    """The service with no background tasks: the test moves the clock and runs the worker."""

    @property
    def worker(self) -> DeliveryWorker:
        return delivery_worker(self.app)

    @property
    def db(self) -> Database:
        return self.runtime.db

    def now(self) -> datetime:
        return self.runtime.clock.now()


@asynccontextmanager
async def quiet_service(
    db_url: str, tokens: TokenFactory, sink: MailSink, **settings: Any
) -> AsyncIterator[Quiet]:
    app = make_app(db_url, tokens, sink, background=False, **settings)
    async with running(app) as client:
        await seed_demo_city(app)
        yield Quiet(app, client, tokens, sink)
