"""The delivery API: an alert's progress and reach rate (到達率), its deliveries with filters
and cursor paging, per-department visibility, and the audit of every read of addresses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from deploy.mailsink import MailSink
from services.alert_mail.models import Alert
from services.kit.assurance import Acr
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.alerts_support import audit_actions
from tests.unit.alert_mail.delivery_support import (
    Person,
    Quiet,
    add_subscribers,
    publish,
    quiet_service,
)


@pytest.fixture
async def sent(
    db_url: str, tokens: TokenFactory, sink: MailSink
) -> AsyncIterator[tuple[Quiet, Alert]]:
    """An alert to four people after one pass: two delivered, one 4xx, one 5xx."""
    async with quiet_service(db_url, tokens, sink) as quiet:
        people = [
            Person("taro@example.jp"),
            Person("busy@example.jp"),
            Person("gone@example.jp"),
            Person("hana@example.jp"),
        ]
        await add_subscribers(quiet.db, people, quiet.now())
        alert = await publish(quiet.db, quiet.now())
        sink.fail("busy@example.jp", 451, "4.3.0 try again later")
        sink.fail("gone@example.jp", 550, "5.1.1 no such user")
        await quiet.worker.run_once()
        yield quiet, alert


def bosai(tokens: TokenFactory) -> dict[str, str]:
    return tokens.staff("stf_bosai", "alert_publisher", department="bosai")


async def test_progress_counts_statuses_and_the_reach_rate(sent: tuple[Quiet, Alert]) -> None:
    quiet, alert = sent
    response = await quiet.client.get(
        f"/v1/alerts/{alert.id}/progress", headers=bosai(quiet.tokens)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["counts"] == {
        "created": 0,
        "sending": 0,
        "delivered": 2,
        "temporary-failure": 1,
        "permanent-failure": 1,
        "technical-failure": 0,
        "cancelled": 0,
        "superseded": 0,
    }
    assert (body["total"], body["delivered"], body["pending"], body["failed"]) == (4, 2, 1, 1)
    assert (body["retries_scheduled"], body["cancelled"], body["superseded"]) == (1, 0, 0)
    assert body["reach_rate"] == 0.5
    assert body["alert_status"] == "sending"
    assert body["first_delivered_at"] is not None
    assert body["first_delivered_at"] <= body["last_delivered_at"]
    assert body["last_delivered_at"].endswith(("Z", "+00:00"))

    admin = await quiet.client.get(f"/v1/alerts/{alert.id}/progress", headers=quiet.tokens.admin())
    assert admin.status_code == 200


async def test_other_departments_and_citizens_see_nothing(sent: tuple[Quiet, Alert]) -> None:
    quiet, alert = sent
    police = quiet.tokens.staff("stf_police", "alert_publisher", department="seikatsu-anzen")
    for path in ("progress", "deliveries"):
        other = await quiet.client.get(f"/v1/alerts/{alert.id}/{path}", headers=police)
        assert other.status_code == 404, other.text
        assert other.headers["content-type"] == "application/problem+json"
        citizen = await quiet.client.get(
            f"/v1/alerts/{alert.id}/{path}", headers=quiet.tokens.citizen()
        )
        assert citizen.status_code == 403
        anonymous = await quiet.client.get(f"/v1/alerts/{alert.id}/{path}")
        assert anonymous.status_code == 401
    unknown = await quiet.client.get(
        "/v1/alerts/alt_00000000000000000000000000/progress", headers=bosai(quiet.tokens)
    )
    assert unknown.status_code == 404
    assert await audit_actions(quiet.db, alert.id) == []


async def test_the_delivery_list_needs_the_second_factor_and_the_progress_does_not(
    sent: tuple[Quiet, Alert],
) -> None:
    quiet, alert = sent
    password_only = quiet.tokens.staff(
        "stf_bosai", "alert_publisher", department="bosai", acr=Acr.PASSWORD
    )
    listed = await quiet.client.get(f"/v1/alerts/{alert.id}/deliveries", headers=password_only)
    assert listed.status_code == 403
    assert listed.json()["type"] == "/problems/second-factor-required"
    progress = await quiet.client.get(f"/v1/alerts/{alert.id}/progress", headers=password_only)
    assert progress.status_code == 200
    assert await audit_actions(quiet.db, alert.id) == []  # a refused read shows nothing


async def test_deliveries_filter_by_status_and_email_and_page_with_cursors(
    sent: tuple[Quiet, Alert],
) -> None:
    quiet, alert = sent
    url = f"/v1/alerts/{alert.id}/deliveries"
    headers = bosai(quiet.tokens)

    delivered = await quiet.client.get(url, params={"status": "delivered"}, headers=headers)
    assert delivered.status_code == 200, delivered.text
    assert sorted(d["email"] for d in delivered.json()["items"]) == [
        "hana@example.jp",
        "taro@example.jp",
    ]
    busy = await quiet.client.get(url, params={"email": "BUSY@example.jp"}, headers=headers)
    [row] = busy.json()["items"]
    assert (row["status"], row["attempts"], row["last_code"]) == ("temporary-failure", 1, 451)
    assert row["id"].startswith("dlv_")
    assert row["next_attempt_at"] is not None

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = await quiet.client.get(url, params=params, headers=headers)
        assert page.status_code == 200, page.text
        seen += [d["email"] for d in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(
        ["taro@example.jp", "busy@example.jp", "gone@example.jp", "hana@example.jp"]
    )

    # every read of addresses is audited, one event per request
    assert await audit_actions(quiet.db, alert.id) == ["alert.deliveries.viewed"] * 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"limit": 101}, "limit"),
        ({"cursor": "eyJ4IjoxfQ"}, "cursor"),  # a JSON object, not an id
        ({"cursor": "not base64!"}, "cursor"),
        ({"email": "x" * 255}, "email"),
    ],
)
async def test_bad_filters_are_problems_naming_the_field(
    sent: tuple[Quiet, Alert], params: dict[str, Any], field: str
) -> None:
    quiet, alert = sent
    response = await quiet.client.get(
        f"/v1/alerts/{alert.id}/deliveries", params=params, headers=bosai(quiet.tokens)
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert field in str(problem)
