"""Helpers shared by the alert and feed tests: staff tokens, alert bodies, the four-eyes flow,
and the audit rows of the outbox (subscribers written straight into the database come from
delivery_support)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from services.kit.audit import AUDIT_TOPIC
from services.kit.db import Database
from services.kit.tables import OutboxMessage
from tests.support.tokens import TokenFactory

BOSAI = "bosai"


class Staff:
    """Tokens for the people of the 防災 department (and one from elsewhere)."""

    def __init__(self, tokens: TokenFactory) -> None:
        self.tokens = tokens

    def author(self, sub: str = "stf_author") -> dict[str, str]:
        return self.tokens.staff(sub, "alert_publisher", department=BOSAI)

    def approver(self, sub: str = "stf_approver") -> dict[str, str]:
        return self.tokens.staff(sub, "approver", department=BOSAI)

    def author_and_approver(self, sub: str = "stf_both") -> dict[str, str]:
        return self.tokens.staff(sub, "alert_publisher", "approver", department=BOSAI)

    def emergency(self, sub: str = "stf_emergency") -> dict[str, str]:
        return self.tokens.staff(sub, "emergency_publisher", department=BOSAI)

    def other_department(self, sub: str = "stf_police") -> dict[str, str]:
        return self.tokens.staff(
            sub, "alert_publisher", "approver", "emergency_publisher", department="seikatsu-anzen"
        )


def alert_body(now: datetime, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "disaster",
        "districts": ["chuo"],
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "content": {
            "ja": {
                "headline": "中央地区に避難指示",
                "body": "川の水位が上がっています。",
                "instruction": "直ちに中央小学校へ避難してください。",
            }
        },
        "expires_at": (now + timedelta(hours=6)).isoformat(),
    }
    body.update(changes)
    return body


async def compose(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/v1/alerts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def send_four_eyes(
    client: httpx.AsyncClient, staff: Staff, body: dict[str, Any]
) -> dict[str, Any]:
    """Compose, submit and approve by a second person; the approved alert."""
    alert = await compose(client, staff.author(), body)
    submitted = await client.post(f"/v1/alerts/{alert['id']}/submit", headers=staff.author())
    assert submitted.status_code == 200, submitted.text
    approved = await client.post(f"/v1/alerts/{alert['id']}/approve", headers=staff.approver())
    assert approved.status_code == 200, approved.text
    sent: dict[str, Any] = approved.json()
    return sent


async def audit_actions(db: Database, target: str) -> list[str]:
    """The audit events about `target` waiting in (or shipped from) the outbox, sorted."""
    async with db.session(write=False) as session:
        query = select(OutboxMessage).where(col(OutboxMessage.topic) == AUDIT_TOPIC)
        rows = (await session.exec(query)).all()
    return sorted(str(r.payload["action"]) for r in rows if r.payload.get("target") == target)
