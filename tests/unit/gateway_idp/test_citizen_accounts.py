"""Citizen accounts end to end: register → mail in a real SMTP sink → verify → password login
→ /auth/me; refresh rotation and reuse detection; login failures; revocation."""

from __future__ import annotations

import asyncio

import jwt

from deploy.mailsink import MailSink
from gateway.idp.passwords import Passwords
from gateway.settings import GatewaySettings
from tests.unit.gateway_app.support import Gateway

from .conftest import IdpGatewayFactory
from .helpers import FORM, PASSWORD, bearer, password_login, register_and_verify


async def test_register_verify_login_and_me(gw: Gateway, sink: MailSink) -> None:
    email = "taro@example.jp"
    unverified = await gw.client.post(
        "/auth/register",
        json={"email": "hanako@example.jp", "password": PASSWORD, "display_name": "花子"},
    )
    assert unverified.status_code == 202
    refused = await password_login(gw, "hanako@example.jp")
    assert refused.status_code == 400
    assert refused.json()["type"].endswith("/email-not-verified")

    account = await register_and_verify(gw, sink, email)
    assert account["email_verified"] is True
    (message,) = sink.for_recipient(email)
    assert "メールアドレスの確認" in message.subject
    assert "confirm your e-mail address" in (message.text or "")

    response = await password_login(gw, email)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["acr"] == "password"
    assert tokens["refresh_token"]
    assert response.headers["cache-control"] == "no-store"

    jwks = (await gw.client.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(tokens["access_token"])
    key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == header["kid"])
    claims = jwt.decode(
        tokens["access_token"],
        key.key,
        algorithms=["EdDSA"],
        audience="cityhall",
        issuer="cityhall",
    )
    assert claims["exp"] - claims["iat"] == 900
    assert claims["acr"] == "password"
    assert claims["amr"] == ["pwd"]
    assert claims["kind"] == "citizen"

    me = await gw.client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["account"]["email"] == email
    assert me.json()["sub"] == account["id"]

    discovery = (await gw.client.get("/.well-known/openid-configuration")).json()
    assert "password" in discovery["grant_types_supported"]
    assert discovery["acr_values_supported"] == ["email", "password", "mfa", "jpki"]
    assert {"acr", "amr", "sid"} <= set(discovery["claims_supported"])
    assert me.json()["amr"] == ["pwd"]


async def test_registering_an_address_twice_answers_the_same(gw: Gateway, sink: MailSink) -> None:
    await register_and_verify(gw, sink, "twice@example.jp")
    again = await gw.client.post(
        "/auth/register",
        json={"email": "Twice@Example.jp", "password": PASSWORD, "display_name": "x"},
    )
    assert again.status_code == 202
    messages = await sink.wait_for(to="twice@example.jp", count=2)
    assert "Already registered" in messages[-1].subject


async def test_refresh_rotates_and_reuse_revokes_the_family(gw: Gateway, sink: MailSink) -> None:
    email = "rotate@example.jp"
    await register_and_verify(gw, sink, email)
    first = (await password_login(gw, email)).json()["refresh_token"]

    async def refresh(token: str) -> tuple[int, dict[str, str]]:
        response = await gw.client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            headers=FORM,
        )
        return response.status_code, response.json()

    status, second = await refresh(first)
    assert status == 200
    assert second["refresh_token"] != first
    assert second["acr"] == "password"
    status, third = await refresh(second["refresh_token"])
    assert status == 200

    status, reuse = await refresh(first)  # a stolen, already rotated token
    assert status == 400
    assert reuse["error"] == "invalid_grant"
    assert reuse["type"].endswith("/refresh-token-reused")
    status, after = await refresh(third["refresh_token"])  # the family is gone
    assert status == 400
    assert after["error"] == "invalid_grant"

    status, unknown = await refresh("not-a-token")
    assert status == 400
    assert unknown["error"] == "invalid_grant"


async def test_wrong_password_and_unknown_account_look_the_same(
    gw: Gateway, sink: MailSink
) -> None:
    await register_and_verify(gw, sink, "known@example.jp")
    wrong = await password_login(gw, "known@example.jp", "wrong password!")
    unknown = await password_login(gw, "nobody@example.jp", "wrong password!")
    assert wrong.status_code == unknown.status_code == 400
    strip = {"instance", "request_id"}
    assert {k: v for k, v in wrong.json().items() if k not in strip} == {
        k: v for k, v in unknown.json().items() if k not in strip
    }
    assert wrong.json()["error"] == "invalid_grant"


async def test_repeated_failures_are_limited_per_account(
    make_idp_gateway: IdpGatewayFactory, sink: MailSink
) -> None:
    async with make_idp_gateway(login_failures_per_account=3) as gw:
        await register_and_verify(gw, sink, "locked@example.jp")
        for _ in range(3):
            assert (
                await password_login(gw, "locked@example.jp", "bad guess 123")
            ).status_code == 400
        limited = await password_login(gw, "locked@example.jp")  # even the right password
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["type"].endswith("/rate-limited")
        for _ in range(3):
            await password_login(gw, "ghost@example.jp", "bad guess 123")
        assert (await password_login(gw, "ghost@example.jp")).status_code == 429


async def test_failures_are_limited_per_client_address(
    make_idp_gateway: IdpGatewayFactory, sink: MailSink
) -> None:
    async with make_idp_gateway(login_failures_per_ip=4) as gw:
        for i in range(4):
            await password_login(gw, f"spray{i}@example.jp", "bad guess 123")
        assert (await password_login(gw, "someone-else@example.jp")).status_code == 429


async def test_logout_revokes_the_access_token_and_the_session(gw: Gateway, sink: MailSink) -> None:
    email = "logout@example.jp"
    await register_and_verify(gw, sink, email)
    tokens = (await password_login(gw, email)).json()
    headers = bearer(tokens["access_token"])
    assert (await gw.client.get("/auth/me", headers=headers)).status_code == 200
    out = await gw.client.post(
        "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=headers
    )
    assert out.status_code == 204
    assert (await gw.client.get("/auth/me", headers=headers)).status_code == 401
    again = await gw.client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=FORM,
    )
    assert again.status_code == 400

    other = (await password_login(gw, email)).json()
    revoked = await gw.client.post(
        "/auth/revoke", data={"token": other["access_token"]}, headers=FORM
    )
    assert revoked.status_code == 200
    assert (
        await gw.client.get("/auth/me", headers=bearer(other["access_token"]))
    ).status_code == 401


async def test_production_argon2_parameters_and_hashing_off_the_loop() -> None:
    settings = GatewaySettings()
    assert (settings.password_hash_time_cost, settings.password_hash_memory_kib) == (2, 19_456)
    passwords = Passwords()
    stored = await passwords.hash("pässwörd 日本語")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    assert await passwords.verify(stored, "pässwörd 日本語")
    assert not await passwords.verify(None, "anything")
    task.cancel()
    assert ticks > 2  # the loop kept running while argon2 worked


async def test_behind_a_trusted_proxy_failures_count_per_forwarded_address(
    make_idp_gateway: IdpGatewayFactory,
) -> None:
    async def fail_from(gw: Gateway, address: str, user: str) -> int:
        response = await gw.client.post(
            "/auth/token",
            data={"grant_type": "password", "username": user, "password": "bad guess 123"},
            headers={**FORM, "X-Forwarded-For": address},
        )
        return response.status_code

    async with make_idp_gateway(login_failures_per_ip=2, trust_forwarded_headers=True) as gw:
        first = [await fail_from(gw, "198.51.100.1", f"a{i}@example.jp") for i in range(2)]
        attacker = await fail_from(gw, "198.51.100.1", "c@example.jp")
        someone_else = await fail_from(gw, "203.0.113.9", "d@example.jp")
    assert first == [400, 400]
    assert attacker == 429  # its own address is over the limit
    assert someone_else == 400  # not locked out through the proxy's shared address
