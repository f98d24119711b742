"""Helpers for the subscription tests: sign up through the API, read the link out of the mail
the real SMTP sink received, and count who a fan-out would reach."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlmodel import col, select

from services.alert_mail.delivery.fanout import fan_out
from services.alert_mail.domain import links
from services.alert_mail.models import Alert, Subscription
from tests.unit.alert_mail.conftest import AlertMail

_CONFIRM_URL = re.compile(r"https?://\S+/v1/subscriptions/confirm\?token=\S+")


async def sign_up(
    am: AlertMail, email: str, headers: dict[str, str] | None = None, **choices: Any
) -> None:
    body = {"email": email, "categories": ["disaster"], **choices}
    response = await am.client.post("/v1/subscriptions", json=body, headers=headers or {})
    assert response.status_code == 202, response.text


async def confirmation_token(am: AlertMail, email: str, *, count: int = 1) -> str:
    """The token of the newest confirmation mail to `email` (waits for the `count`-th)."""
    mails = await am.sink.wait_for(to=email, count=count)
    text = mails[-1].text or ""
    match = _CONFIRM_URL.search(text)
    assert match is not None, text
    return parse_qs(urlsplit(match.group(0)).query)["token"][0]


async def subscribe_confirmed(am: AlertMail, email: str, **choices: Any) -> dict[str, Any]:
    await sign_up(am, email, **choices)
    token = await confirmation_token(am, email)
    response = await am.client.post("/v1/subscriptions/confirm", json={"token": token})
    assert response.status_code == 200, response.text
    confirmed: dict[str, Any] = response.json()
    return confirmed


async def subscription(am: AlertMail, email: str) -> Subscription | None:
    async with am.runtime.db.session(write=False) as session:
        rows = await session.exec(select(Subscription).where(col(Subscription.email) == email))
        return rows.first()


def personal_token(am: AlertMail, purpose: str, subscription_id: str, version: int) -> str:
    """Minted exactly as the delivery worker mints them for every alert mail."""
    secret = am.settings.link_secret.get_secret_value()
    return links.personal_token(secret, purpose, subscription_id, version)


async def reach(
    am: AlertMail, category: str = "disaster", districts: list[str] | None = None
) -> int:
    """How many recipients an alert would have now (the fan-out, rolled back)."""
    now = am.runtime.clock.now()
    async with am.runtime.db.sessionmaker()() as session:
        alert = Alert(
            id="alt_reach_probe",
            status="sending",
            category=category,
            districts=districts or [],
            severity="Severe",
            urgency="Immediate",
            certainty="Observed",
            content={"ja": {"headline": "避難指示", "body": "本文"}},
            department="bosai",
            fingerprint="f" * 64,
            created_by="stf_a",
            created_at=now,
            updated_at=now,
            expires_at=now,
        )
        session.add(alert)
        await session.flush()
        recipients = await fan_out(session, alert, now)
        await session.rollback()
    return recipients
