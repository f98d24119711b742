"""What needs a staff login with the one-time code (acr `mfa`): deciding on an alert
(approve, reject, emergency publication) and reading lists of recipients. A password-only
staff token is refused there with /problems/second-factor-required and works elsewhere."""

from __future__ import annotations

from typing import Any

import httpx

from services.kit.assurance import Acr
from tests.unit.alert_mail.alerts_support import BOSAI, alert_body, compose
from tests.unit.alert_mail.callups_support import make_callup, make_group
from tests.unit.alert_mail.conftest import AlertMail


def _password_only(am: AlertMail, sub: str, *roles: str) -> dict[str, str]:
    return am.tokens.staff(sub, *roles, department=BOSAI, acr=Acr.PASSWORD)


def _needs_second_factor(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"] == "/problems/second-factor-required"
    assert problem["required_acr"] == "mfa"


async def test_alert_decisions_need_the_second_factor(alert_mail: AlertMail) -> None:
    client = alert_mail.client
    now = alert_mail.runtime.clock.now()
    author = _password_only(alert_mail, "stf_author", "alert_publisher")
    draft = await compose(client, author, alert_body(now))  # composing is no decision
    submitted = await client.post(f"/v1/alerts/{draft['id']}/submit", headers=author)
    assert submitted.status_code == 200, submitted.text

    approver = _password_only(alert_mail, "stf_approver", "approver")
    _needs_second_factor(await client.post(f"/v1/alerts/{draft['id']}/approve", headers=approver))
    rejected = await client.post(
        f"/v1/alerts/{draft['id']}/reject", json={"note": "確認中"}, headers=approver
    )
    _needs_second_factor(rejected)
    # the approver still reads the alert with the same token
    read = await client.get(f"/v1/alerts/{draft['id']}", headers=approver)
    assert read.json()["status"] == "submitted"

    approved = await client.post(
        f"/v1/alerts/{draft['id']}/approve",
        headers=alert_mail.tokens.staff("stf_approver", "approver", department=BOSAI),
    )
    assert approved.status_code == 200, approved.text

    publisher = _password_only(alert_mail, "stf_emergency", "emergency_publisher")
    emergency = await compose(client, publisher, alert_body(now, districts=["chuo", "nanbu"]))
    published = await client.post(
        f"/v1/alerts/{emergency['id']}/publish-emergency", headers=publisher
    )
    _needs_second_factor(published)


async def test_a_callups_recipient_list_needs_the_second_factor(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    callup = await make_callup(alert_mail, group_id)
    colleague = _password_only(alert_mail, "stf_bosai")
    url = f"/v1/callups/{callup['id']}"
    _needs_second_factor(await alert_mail.client.get(f"{url}/recipients", headers=colleague))
    assert (await alert_mail.client.get(f"{url}/summary", headers=colleague)).status_code == 200
    with_code = alert_mail.tokens.staff("stf_bosai", department=BOSAI)
    listed = await alert_mail.client.get(f"{url}/recipients", headers=with_code)
    assert listed.status_code == 200, listed.text
