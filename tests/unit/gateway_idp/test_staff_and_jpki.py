"""Staff accounts with TOTP, disabling at the gateway, and the mock JPKI card login."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pyotp
from typer.testing import CliRunner

from deploy import cli
from gateway.idp.jpki import MockCA
from gateway.idp.jpki_client import Card
from tests.unit.gateway_app.support import Gateway

from .conftest import IdpGatewayFactory
from .helpers import FORM, bearer, password_login

STAFF_PASSWORD = "staff password 2026"


async def test_staff_totp_enrolment_login_and_disable(
    make_idp_gateway: IdpGatewayFactory,
) -> None:
    async with make_idp_gateway(
        routes={"/v1/echo": "echo"}, upstreams={"echo": "http://127.0.0.1:9"}
    ) as gw:
        admin = bearer(gw.token(sub="stf_admin", kind="staff", roles=("admin",)))
        created = await gw.client.post(
            "/auth/admin/staff",
            json={
                "email": "suzuki@city.example.jp",
                "display_name": "鈴木 一郎",
                "department": "shimin",
                "roles": ["staff", "approver"],
                "initial_password": STAFF_PASSWORD,
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        staff_id = created.json()["id"]
        bad_role = await gw.client.post(
            "/auth/admin/staff",
            json={
                "email": "x@city.example.jp",
                "display_name": "x",
                "department": "shimin",
                "roles": ["king"],
                "initial_password": STAFF_PASSWORD,
            },
            headers=admin,
        )
        assert bad_role.status_code == 422

        first = (await password_login(gw, "suzuki@city.example.jp", STAFF_PASSWORD)).json()
        assert first["scope"] == "totp:enroll"  # no roles before the second factor
        enrol_headers = bearer(first["access_token"])
        enrolment = (await gw.client.post("/auth/totp/enroll", headers=enrol_headers)).json()
        assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
        assert enrolment["qr_code"].startswith("data:image/svg+xml;base64,")
        totp = pyotp.TOTP(enrolment["secret"])
        now = datetime.now(UTC)
        code = totp.at(now)
        wrong = await gw.client.post(
            "/auth/totp/confirm",
            json={"code": "000000" if code != "000000" else "111111"},
            headers=enrol_headers,
        )
        assert wrong.status_code == 400
        confirmed = await gw.client.post(
            "/auth/totp/confirm", json={"code": code}, headers=enrol_headers
        )
        assert confirmed.status_code == 200
        assert confirmed.json()["totp_enrolled"] is True

        without_code = await password_login(gw, "suzuki@city.example.jp", STAFF_PASSWORD)
        assert without_code.json()["type"].endswith("/totp-required")
        replayed = await password_login(gw, "suzuki@city.example.jp", STAFF_PASSWORD, totp=code)
        assert replayed.status_code == 400  # the confirming code's step is spent
        assert "wait for the next code" in replayed.json()["detail"]
        ready = datetime.fromisoformat(replayed.json()["next_code_at"])
        assert ready.timestamp() % 30 == 0
        assert ready > now - timedelta(seconds=30)
        assert 1 <= replayed.json()["retry_after_seconds"] <= 60
        next_code = totp.at(now + timedelta(seconds=30))
        login = await password_login(gw, "suzuki@city.example.jp", STAFF_PASSWORD, totp=next_code)
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        me = (await gw.client.get("/auth/me", headers=bearer(token))).json()
        assert me["roles"] == ["approver", "staff"]
        assert me["department"] == "shimin"

        disabled = await gw.client.post(f"/auth/admin/accounts/{staff_id}/disable", headers=admin)
        assert disabled.status_code == 200
        assert (await gw.client.get("/auth/me", headers=bearer(token))).status_code == 401
        proxied = await gw.client.get("/v1/echo", headers=bearer(token))
        assert proxied.status_code == 401  # refused at the gateway, before any upstream
        assert "revoked" in proxied.json()["detail"]


async def _enrolled_staff(gw: Gateway, email: str, roles: list[str]) -> pyotp.TOTP:
    """A staff account created by an admin whose authenticator is confirmed."""
    admin = bearer(gw.token(sub="stf_admin", kind="staff", roles=("admin",)))
    created = await gw.client.post(
        "/auth/admin/staff",
        json={
            "email": email,
            "display_name": "監査 花子",
            "department": "joho",
            "roles": roles,
            "initial_password": STAFF_PASSWORD,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    first = (await password_login(gw, email, STAFF_PASSWORD)).json()
    enrol = bearer(first["access_token"])
    totp = pyotp.TOTP((await gw.client.post("/auth/totp/enroll", headers=enrol)).json()["secret"])
    confirm = {"code": totp.at(datetime.now(UTC) - timedelta(seconds=30))}  # ±1 step allowed
    confirmed = await gw.client.post("/auth/totp/confirm", json=confirm, headers=enrol)
    assert confirmed.status_code == 200, confirmed.text
    return totp


def _claims(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_a_login_with_the_code_says_so_and_refresh_keeps_it(
    make_idp_gateway: IdpGatewayFactory,
) -> None:
    async with make_idp_gateway() as gw:
        totp = await _enrolled_staff(gw, "kansa@city.example.jp", ["auditor"])
        login = await password_login(
            gw, "kansa@city.example.jp", STAFF_PASSWORD, totp=totp.at(datetime.now(UTC))
        )
        assert login.status_code == 200, login.text
        tokens = login.json()
        assert (tokens["acr"], tokens["amr"]) == ("mfa", ["pwd", "otp"])
        claims = _claims(tokens["access_token"])
        assert (claims["acr"], claims["amr"]) == ("mfa", ["pwd", "otp"])
        me = (await gw.client.get("/auth/me", headers=bearer(tokens["access_token"]))).json()
        assert me["amr"] == ["pwd", "otp"]
        audit = await gw.client.get("/audit/events", headers=bearer(tokens["access_token"]))
        assert audit.status_code == 200, audit.text

        refreshed = await gw.client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers=FORM,
        )
        assert refreshed.status_code == 200, refreshed.text
        again = _claims(refreshed.json()["access_token"])
        assert (again["acr"], again["amr"]) == ("mfa", ["pwd", "otp"])
        audit = await gw.client.get(
            "/audit/export", headers=bearer(refreshed.json()["access_token"])
        )
        assert audit.status_code == 200


async def test_audit_reads_refuse_a_staff_token_without_the_second_factor(
    make_idp_gateway: IdpGatewayFactory,
) -> None:
    async with make_idp_gateway() as gw:
        password_only = bearer(
            gw.token(sub="stf_auditor", kind="staff", roles=("auditor",), acr="password")
        )
        for path in ("/audit/events", "/audit/export", "/audit/verify"):
            refused = await gw.client.get(path, headers=password_only)
            assert refused.status_code == 403, path
            assert refused.headers["content-type"] == "application/problem+json"
            problem = refused.json()
            assert problem["type"] == "/problems/second-factor-required"
            assert problem["required_acr"] == "mfa"
            assert problem["current_acr"] == "password"
            assert problem["amr"] == ["pwd"]
            assert "one-time code" in problem["detail"]
            challenge = refused.headers["www-authenticate"]
            assert 'error="insufficient_user_authentication"' in challenge
            assert 'acr_values="mfa"' in challenge
        # elsewhere the same token works: its identity, and the admin routes of the IdP
        assert (await gw.client.get("/auth/me", headers=password_only)).status_code == 200
        assert (await gw.client.get("/audit/keys", headers=password_only)).status_code == 200
        spec = (await gw.client.get("/openapi.json")).json()
        access = spec["paths"]["/audit/events"]["get"]["x-cityhall-access"]
        assert access["second_factor"] is True
        assert access["min_acr"] == "mfa"


async def _card_login(gw: Gateway, card: Card, **changes: str) -> tuple[int, dict[str, str]]:
    challenge = (await gw.client.post("/auth/jpki/challenge")).json()
    body = {**card.token_request(challenge["nonce"]), **changes}
    response = await gw.client.post("/auth/jpki/token", json=body)
    return response.status_code, response.json()


async def test_jpki_card_login_and_refusals(gw: Gateway) -> None:
    ca = gw.app.state.idp.require_ca()
    card = Card.from_pem(ca.issue_card("山田 花子").file_text)
    status, tokens = await _card_login(gw, card)
    assert status == 200, tokens
    assert tokens["acr"] == "jpki"
    assert _claims(tokens["access_token"])["amr"] == ["hwk", "sc"]  # RFC 8176: card, its key
    me = (await gw.client.get("/auth/me", headers=bearer(tokens["access_token"]))).json()
    assert me["account"]["display_name"] == "山田 花子"
    status, again = await _card_login(gw, card)  # the same card logs in the same account
    assert (await gw.client.get("/auth/me", headers=bearer(again["access_token"]))).json()[
        "sub"
    ] == me["sub"]

    challenge = (await gw.client.post("/auth/jpki/challenge")).json()
    request = card.token_request(challenge["nonce"])
    assert (await gw.client.post("/auth/jpki/token", json=request)).status_code == 200
    replay = await gw.client.post("/auth/jpki/token", json=request)
    assert replay.status_code == 400
    assert replay.json()["type"].endswith("/jpki-nonce-invalid")

    past = datetime.now(UTC) - timedelta(days=800)
    expired = Card.from_pem(ca.issue_card("期限切れ", not_before=past, days=365).file_text)
    status, problem = await _card_login(gw, expired)
    assert problem["type"].endswith("/jpki-certificate-expired")

    foreign = Card.from_pem(MockCA.create().issue_card("偽造").file_text)
    status, problem = await _card_login(gw, foreign)
    assert problem["type"].endswith("/jpki-foreign-ca")

    other = Card.from_pem(ca.issue_card("他人").file_text)
    challenge = (await gw.client.post("/auth/jpki/challenge")).json()
    forged = {**card.token_request(challenge["nonce"]), "signature": other.sign(challenge["nonce"])}
    response = await gw.client.post("/auth/jpki/token", json=forged)
    assert response.json()["type"].endswith("/jpki-bad-signature")

    admin = bearer(gw.token(sub="stf_admin", kind="staff", roles=("admin",)))
    serial = format(card.certificate.serial_number, "x")
    added = await gw.client.post(
        "/auth/admin/jpki/revocations",
        json={"serial": serial, "reason": "card lost"},
        headers=admin,
    )
    assert added.status_code == 201
    status, problem = await _card_login(gw, card)
    assert status == 400
    assert problem["type"].endswith("/jpki-certificate-revoked")
    assert problem["error"] == "invalid_grant"


async def test_cli_issues_a_card_the_gateway_accepts(
    make_idp_gateway: IdpGatewayFactory, tmp_path: Path
) -> None:
    out = tmp_path / "card.pem"
    result = CliRunner().invoke(
        cli.app,
        [
            "jpki",
            "issue-card",
            "--name",
            "佐藤 次郎",
            "--out",
            str(out),
            "--var-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key_file = tmp_path / "gateway" / "jpki" / "ca-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    async with make_idp_gateway() as gw:  # the same var dir: the same CA
        status, tokens = await _card_login(gw, Card.load(out))
    assert status == 200, tokens
    assert tokens["acr"] == "jpki"
