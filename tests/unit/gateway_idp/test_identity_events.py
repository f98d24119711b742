"""Identity actions are domain events in the audit chain (actor, target account, what
changed) and never carry a password, a one-time code, a link or a token; token-endpoint
access records name the account that logged in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp

from deploy.mailsink import MailSink
from gateway.idp.jpki_client import Card
from tests.unit.gateway_app.support import Gateway

from .helpers import PASSWORD, bearer, password_login, register_and_verify

STAFF_PASSWORD = "staff password 2026"


async def _events(gw: Gateway, **filters: str) -> list[dict[str, Any]]:
    """The gateway's domain events, oldest first, read as an auditor would."""
    auditor = bearer(gw.token(sub="stf_auditor", kind="staff", roles=("auditor",)))
    response = await gw.client.get(
        "/audit/events",
        params={"kind": "domain", "service": "gateway", "limit": "100", **filters},
        headers=auditor,
    )
    assert response.status_code == 200, response.text
    return [item["event"] for item in reversed(response.json()["items"])]


async def _export(gw: Gateway) -> str:
    await gw.app.state.audit_log.flush()
    auditor = bearer(gw.token(sub="stf_auditor", kind="staff", roles=("auditor",)))
    response = await gw.client.get("/audit/export", headers=auditor)
    assert response.status_code == 200
    return response.text


def _one(events: list[dict[str, Any]], action: str, **match: Any) -> dict[str, Any]:
    found = [
        e for e in events if e["action"] == action and all(e.get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, (action, match, [e["action"] for e in events])
    return found[0]


async def test_citizen_registration_logins_and_logout_are_events(
    gw: Gateway, sink: MailSink
) -> None:
    account = await register_and_verify(gw, sink, "hanako@example.jp")
    account_id = account["id"]
    again = await gw.client.post(
        "/auth/register",
        json={"email": "hanako@example.jp", "password": PASSWORD, "display_name": "別人"},
    )
    assert again.status_code == 202
    wrong = await password_login(gw, "hanako@example.jp", "not the password at all")
    assert wrong.status_code == 400
    nobody = await password_login(gw, "nobody@example.jp", "whatever password")
    assert nobody.status_code == 400
    login = await password_login(gw, "hanako@example.jp")
    assert login.status_code == 200, login.text
    tokens = login.json()
    logout = await gw.client.post(
        "/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens["access_token"]),
    )
    assert logout.status_code == 204

    events = await _events(gw)
    registered = _one(events, "account.registered", target=account_id)
    assert registered["actor"] == account_id
    assert registered["actor_kind"] == "citizen"
    assert registered["changes"] == {"kind": "citizen", "password": True}
    _one(events, "account.email_verified", target=account_id, actor=account_id)
    _one(events, "account.registration_repeated", target=account_id, actor=None)
    failed = _one(events, "login.failed", target=account_id)
    assert failed["actor"] is None
    assert failed["changes"]["reason"] == "wrong_password"
    assert failed["changes"]["method"] == "password"
    unknown = _one(events, "login.failed", target="account:unknown")
    assert unknown["changes"]["reason"] == "unknown_account"
    succeeded = _one(events, "login.succeeded", target=account_id)
    assert succeeded["actor"] == account_id
    assert succeeded["changes"]["method"] == "password"
    _one(events, "session.logged_out", target=account_id, actor=account_id)
    _one(events, "session.revoked", target=account_id, actor=account_id)

    log = await _export(gw)
    for secret in (PASSWORD, "not the password at all", "whatever password"):
        assert secret not in log
    assert tokens["access_token"] not in log
    assert tokens["refresh_token"] not in log
    token_records = [
        line
        for line in log.splitlines()
        if '"route":"/auth/token"' in line and '"status":200' in line
    ]
    assert len(token_records) == 1
    assert f'"actor":"{account_id}"' in token_records[0]  # the access record names the account


async def test_refresh_token_reuse_is_an_event(gw: Gateway, sink: MailSink) -> None:
    account = await register_and_verify(gw, sink, "reuse@example.jp")
    first = (await password_login(gw, "reuse@example.jp")).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (await gw.client.post("/auth/token", data=form, headers=headers)).status_code == 200
    reused = await gw.client.post("/auth/token", data=form, headers=headers)
    assert reused.json()["type"].endswith("/refresh-token-reused")
    event = _one(await _events(gw), "session.refresh_token_reused", target=account["id"])
    assert event["changes"]["session"].startswith("rtf_")
    assert first["refresh_token"] not in await _export(gw)


async def test_staff_creation_totp_enrolment_and_disabling_are_events(gw: Gateway) -> None:
    admin = bearer(gw.token(sub="stf_admin", kind="staff", roles=("admin",)))
    created = await gw.client.post(
        "/auth/admin/staff",
        json={
            "email": "tanaka@city.example.jp",
            "display_name": "田中 次郎",
            "department": "bousai",
            "roles": ["staff", "alert_publisher"],
            "initial_password": STAFF_PASSWORD,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    staff_id = created.json()["id"]
    first = (await password_login(gw, "tanaka@city.example.jp", STAFF_PASSWORD)).json()
    enrol_headers = bearer(first["access_token"])
    enrolment = (await gw.client.post("/auth/totp/enroll", headers=enrol_headers)).json()
    totp = pyotp.TOTP(enrolment["secret"])
    now = datetime.now(UTC)
    code = totp.at(now)
    confirmed = await gw.client.post(
        "/auth/totp/confirm", json={"code": code}, headers=enrol_headers
    )
    assert confirmed.status_code == 200
    wrong_code = "000000" if totp.at(now + timedelta(seconds=30)) != "000000" else "111111"
    refused = await password_login(gw, "tanaka@city.example.jp", STAFF_PASSWORD, totp=wrong_code)
    assert refused.status_code == 400
    next_code = totp.at(now + timedelta(seconds=30))
    login = await password_login(gw, "tanaka@city.example.jp", STAFF_PASSWORD, totp=next_code)
    assert login.status_code == 200, login.text
    assert (
        await gw.client.post(f"/auth/admin/accounts/{staff_id}/disable", headers=admin)
    ).status_code == 200
    assert (
        await gw.client.post(f"/auth/admin/accounts/{staff_id}/enable", headers=admin)
    ).status_code == 200

    events = await _events(gw)
    staff_created = _one(events, "account.staff_created", target=staff_id)
    assert staff_created["actor"] == "stf_admin"
    assert staff_created["roles"] == ["admin"]
    assert staff_created["changes"] == {
        "department": "bousai",
        "roles": ["alert_publisher", "staff"],
        "credential": "initial_password",
    }
    _one(events, "totp.enrolled", target=staff_id, actor=staff_id)
    totp_failure = _one(events, "login.failed", target=staff_id)
    assert totp_failure["changes"]["reason"] == "totp_wrong"
    enrolling, staff_login = [
        e for e in events if e["action"] == "login.succeeded" and e["target"] == staff_id
    ]
    assert enrolling["changes"]["second_factor"] is None
    assert enrolling["roles"] == []  # the token before TOTP carried no roles
    assert staff_login["changes"]["second_factor"] == "totp"
    assert staff_login["actor"] == staff_id
    assert staff_login["roles"] == ["alert_publisher", "staff"]
    disabled = _one(events, "account.disabled", target=staff_id, actor="stf_admin")
    assert disabled["changes"] == {"status": ["active", "disabled"]}
    _one(events, "account.enabled", target=staff_id, actor="stf_admin")

    log = await _export(gw)
    for secret in (STAFF_PASSWORD, enrolment["secret"], code, next_code, wrong_code):
        assert f'"{secret}"' not in log
        assert secret not in _changes_text(log)


def _changes_text(log: str) -> str:
    """The domain events' `changes` and targets only: six-digit codes could appear by chance
    inside hashes or ids elsewhere in the export."""
    import json

    parts: list[str] = []
    for line in log.splitlines():
        record = json.loads(line)
        event = record.get("event", record)
        if isinstance(event, dict) and event.get("kind") == "domain":
            parts.append(json.dumps([event["target"], event["changes"]], ensure_ascii=False))
    return "\n".join(parts)


async def test_card_logins_and_revocations_are_events(gw: Gateway) -> None:
    ca = gw.app.state.idp.require_ca()
    card = Card.from_pem(ca.issue_card("山田 花子").file_text)
    serial = format(card.certificate.serial_number, "x")
    challenge = (await gw.client.post("/auth/jpki/challenge")).json()
    signed = card.token_request(challenge["nonce"])
    response = await gw.client.post("/auth/jpki/token", json=signed)
    assert response.status_code == 200, response.text
    tokens = response.json()
    me = (await gw.client.get("/auth/me", headers=bearer(tokens["access_token"]))).json()
    admin = bearer(gw.token(sub="stf_admin", kind="staff", roles=("admin",)))
    added = await gw.client.post(
        "/auth/admin/jpki/revocations",
        json={"serial": serial, "reason": "紛失"},
        headers=admin,
    )
    assert added.status_code == 201
    challenge = (await gw.client.post("/auth/jpki/challenge")).json()
    refused = await gw.client.post("/auth/jpki/token", json=card.token_request(challenge["nonce"]))
    assert refused.status_code == 400

    events = await _events(gw)
    linked = _one(events, "jpki.card_linked", target=me["sub"])
    assert linked["changes"] == {"card_serial": serial}
    login = _one(events, "login.succeeded", target=me["sub"], actor=me["sub"])
    assert login["changes"] == {"method": "jpki", "card_serial": serial}
    revoked = _one(events, "jpki.card_revoked", target=f"jpki:{serial}", actor="stf_admin")
    assert revoked["changes"] == {"reason": "紛失", "sessions_revoked": 1}
    failed = _one(events, "login.failed", target=f"jpki:{serial}")
    assert failed["changes"]["reason"] == "jpki-certificate-revoked"
    log = await _export(gw)
    assert signed["signature"] not in log
    assert tokens["access_token"] not in log
