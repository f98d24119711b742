"""Helpers of the call-up tests: a group with members, a call-up, its queued mails and the
reply links in them, and the audit events the service wrote."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlmodel import col, select

from services.alert_mail.models import Delivery, OutgoingMessage
from services.kit.tables import OutboxMessage
from tests.unit.alert_mail.conftest import PUBLIC_URL, AlertMail

MEMBERS = (
    ("防災 太郎", "taro@city.test.example.jp"),
    ("危機 花子", "hanako@city.test.example.jp"),
    ("総務 一郎", "ichiro@city.test.example.jp"),
)
REPLY_LINK = re.compile(re.escape(PUBLIC_URL) + r"/v1/callups/reply\?token=\S+")


def publisher(am: AlertMail, department: str = "bosai", sub: str = "stf_pub") -> dict[str, str]:
    return am.tokens.staff(sub, "emergency_publisher", department=department)


async def make_group(
    am: AlertMail,
    *,
    code: str = "honbu",
    department: str = "bosai",
    members: tuple[tuple[str, str], ...] = MEMBERS,
) -> str:
    created = await am.client.post(
        "/v1/callups/groups",
        json={"code": code, "name_ja": "災害対策本部員", "department": department},
        headers=am.tokens.admin(),
    )
    assert created.status_code == 201, created.text
    group_id: str = created.json()["id"]
    for name, email in members:
        added = await am.client.post(
            f"/v1/callups/groups/{group_id}/members",
            json={"name": name, "email": email},
            headers=am.tokens.admin(),
        )
        assert added.status_code == 201, added.text
    return group_id


async def make_callup(
    am: AlertMail, group_id: str, headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"group_id": group_id, "title": "震度6弱の地震", "message": "直ちに参集してください。"}
    response = await am.client.post(
        "/v1/callups", json=body | extra, headers=headers or publisher(am)
    )
    assert response.status_code == 201, response.text
    callup: dict[str, Any] = response.json()
    return callup


@dataclass(frozen=True)
class QueuedMail:
    email: str
    subject: str
    text: str
    kind: str
    priority: int
    status: str


async def queued_mails(am: AlertMail) -> list[QueuedMail]:
    async with am.runtime.db.session(write=False) as session:
        rows = (
            await session.exec(
                select(Delivery, OutgoingMessage)
                .join(OutgoingMessage, col(OutgoingMessage.id) == col(Delivery.message_id))
                .where(col(OutgoingMessage.kind) == "callup")
                .order_by(col(Delivery.id))
            )
        ).all()
    return [QueuedMail(d.email, m.subject, m.text, m.kind, d.priority, d.status) for d, m in rows]


def reply_link(text: str) -> str:
    match = REPLY_LINK.search(text)
    assert match is not None, text
    return match.group(0)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def tokens_by_email(am: AlertMail) -> dict[str, str]:
    """The newest reply token mailed to each address."""
    return {m.email: token_of(reply_link(m.text)) for m in await queued_mails(am)}


async def audit_events(am: AlertMail, action: str | None = None) -> list[dict[str, Any]]:
    async with am.runtime.db.session(write=False) as session:
        rows = (
            await session.exec(select(OutboxMessage).where(col(OutboxMessage.topic) == "audit"))
        ).all()
    # ids are ULIDs, random within a millisecond: the event's own time orders them
    events = sorted(
        (dict(r.payload) for r in rows), key=lambda e: datetime.fromisoformat(e["occurred_at"])
    )
    return [e for e in events if action is None or e["action"] == action]


async def reply_json(am: AlertMail, token: str, **body: Any) -> Any:
    return await am.client.post("/v1/callups/reply", json={"token": token, **body})


class FormReader(HTMLParser):
    """The controls of a page's first form, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.radios: list[str] = []
        self.labels: dict[str, str] = {}
        self._label_for: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "radio":
            self.radios.append(a["value"])
        elif tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self.fields[a["name"]] = ""
        elif tag == "label":
            self._label_for = a.get("for")

    def handle_data(self, data: str) -> None:
        if self._label_for and data.strip():
            self.labels[self._label_for] = self.labels.get(self._label_for, "") + data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None


def read_form(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    return reader
