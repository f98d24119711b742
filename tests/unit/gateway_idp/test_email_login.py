"""かんたん login (acr=email): a mailed, signed, 10-minute, single-use link, read back from the
real SMTP sink and exchanged at the token endpoint; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from deploy.mailsink import MailSink
from gateway.idp import links
from gateway.idp.grants import EMAIL_LINK_GRANT
from gateway.idp.service import IdentityProvider
from tests.unit.gateway_app.support import Gateway

from .conftest import IdpGatewayFactory
from .helpers import FORM, bearer, link_in, register_and_verify

SUBJECT = "かんたんログイン"


def idp_of(gw: Gateway) -> IdentityProvider:
    idp: IdentityProvider = gw.app.state.idp
    return idp


async def ask_for_link(gw: Gateway, email: str) -> Any:
    response = await gw.client.post("/auth/email-login", json={"email": email})
    await idp_of(gw).settle()  # the mail goes out in the background
    return response


def login_mails(sink: MailSink, email: str) -> list[str]:
    return [m.text or "" for m in sink.for_recipient(email) if SUBJECT in m.subject]


def link_token(text: str) -> str:
    query = urlsplit(link_in(text, "/auth/email-login")).query
    return parse_qs(query)["token"][0]


async def redeem(gw: Gateway, token: str) -> Any:
    return await gw.client.post(
        "/auth/token", data={"grant_type": EMAIL_LINK_GRANT, "link_token": token}, headers=FORM
    )


async def test_a_mailed_link_logs_in_once_with_acr_email(
    make_idp_gateway: IdpGatewayFactory, sink: MailSink, db_url: str
) -> None:
    email = "kantan@example.jp"
    async with make_idp_gateway(database_url=db_url) as gw:
        account = await register_and_verify(gw, sink, email)
        asked = await ask_for_link(gw, email)
        (text,) = login_mails(sink, email)
        page = await gw.client.get(link_in(text, "/auth/email-login"))
        token = link_token(text)
        tokens = await redeem(gw, token)
        replay = await redeem(gw, token)
        me = await gw.client.get("/auth/me", headers=bearer(tokens.json()["access_token"]))
        refreshed = await gw.client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]},
            headers=FORM,
        )

    assert asked.status_code == 202
    assert "10分" in text
    assert "valid for 10 minutes" in text
    assert page.status_code == 200  # opening the link shows a button, it does not log in
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert f'name="link_token" value="{token}"' in page.text
    assert f'value="{EMAIL_LINK_GRANT}"' in page.text

    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["acr"] == "email"
    assert body["refresh_token"]
    assert tokens.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["acr"], claims["sub"], claims["kind"]) == ("email", account["id"], "citizen")
    assert claims["amr"] == ["email"]  # no RFC 8176 value names a mailed link
    assert me.status_code == 200
    assert me.json()["acr"] == "email"
    assert refreshed.json()["acr"] == "email"  # the session keeps its assurance level
    assert refreshed.json()["amr"] == ["email"]

    assert replay.status_code == 400
    assert replay.headers["content-type"] == "application/problem+json"
    problem = replay.json()
    assert problem["type"] == "/problems/email-link-refused"
    assert problem["error"] == "invalid_grant"
    assert problem["detail"] == "the link was used already or has expired"


async def test_the_answer_is_the_same_whether_or_not_a_link_is_mailed(
    gw: Gateway, sink: MailSink
) -> None:
    await register_and_verify(gw, sink, "verified@example.jp")
    unverified = await gw.client.post(
        "/auth/register", json={"email": "unverified@example.jp", "display_name": "未確認"}
    )
    assert unverified.status_code == 202
    admin = bearer(gw.token(sub="stf_admin", kind="staff", roles=("admin",)))
    staff = await gw.client.post(
        "/auth/admin/staff",
        json={
            "email": "clerk@example.jp",
            "display_name": "職員",
            "department": "shimin",
            "roles": ["staff"],
            "initial_password": "correct horse battery",
        },
        headers=admin,
    )
    assert staff.status_code == 201
    addresses = ["verified@example.jp", "nobody@example.jp", "unverified@example.jp"]
    answers = [await ask_for_link(gw, a) for a in [*addresses, "clerk@example.jp"]]

    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    assert len(login_mails(sink, "verified@example.jp")) == 1
    for address in ("nobody@example.jp", "unverified@example.jp", "clerk@example.jp"):
        assert login_mails(sink, address) == []
    bad = await gw.client.post("/auth/email-login", json={"email": "not an address"})
    assert bad.status_code == 422


async def test_links_expire_after_ten_minutes(gw: Gateway, sink: MailSink) -> None:
    email = "late@example.jp"
    await register_and_verify(gw, sink, email)
    await ask_for_link(gw, email)
    (text,) = login_mails(sink, email)
    gw.runtime.clock.advance(timedelta(minutes=10, seconds=1))
    expired = await redeem(gw, link_token(text))
    assert expired.status_code == 400
    assert expired.json()["detail"] == "the link has expired"


async def test_forged_or_other_purpose_tokens_are_refused(gw: Gateway, sink: MailSink) -> None:
    email = "forged@example.jp"
    account = await register_and_verify(gw, sink, email)
    await ask_for_link(gw, email)
    (text,) = login_mails(sink, email)
    jti = jwt.decode(link_token(text), options={"verify_signature": False})["jti"]
    now = gw.runtime.clock.now()
    claims = {"sub": account["id"], "now": now, "ttl": timedelta(minutes=5), "email": email}
    foreign = links.sign_link("another secret", purpose="email-login", jti=jti, **claims)
    settings = gw.runtime.settings
    secret = settings.idp_secret.get_secret_value()
    verify_link = links.sign_link(secret, purpose="verify-email", jti=jti, **claims)
    unrecorded = links.sign_link(secret, purpose="email-login", jti="never-mailed", **claims)
    answers = [await redeem(gw, t) for t in (foreign, verify_link, unrecorded, "garbage")]
    assert [a.status_code for a in answers] == [400, 400, 400, 400]
    assert {a.json()["type"] for a in answers} == {"/problems/email-link-refused"}
    assert (await redeem(gw, link_token(text))).status_code == 200  # the real one still works


async def test_login_mails_per_account_are_capped(
    make_idp_gateway: IdpGatewayFactory, sink: MailSink
) -> None:
    email = "bombed@example.jp"
    async with make_idp_gateway(email_login_links_per_hour=2) as gw:
        await register_and_verify(gw, sink, email)
        answers = [await ask_for_link(gw, email) for _ in range(4)]
        capped = len(login_mails(sink, email))
        gw.runtime.clock.advance(timedelta(hours=1, seconds=1))
        await ask_for_link(gw, email)
    assert {a.status_code for a in answers} == {202}
    assert capped == 2
    assert len(login_mails(sink, email)) == 3  # a new hour, a new allowance


async def test_a_disabled_account_cannot_use_its_link(gw: Gateway, sink: MailSink) -> None:
    email = "disabled@example.jp"
    account = await register_and_verify(gw, sink, email)
    await ask_for_link(gw, email)
    (text,) = login_mails(sink, email)
    admin = bearer(gw.token(sub="stf_admin", kind="staff", roles=("admin",)))
    disabled = await gw.client.post(f"/auth/admin/accounts/{account['id']}/disable", headers=admin)
    assert disabled.status_code == 200
    refused = await redeem(gw, link_token(text))
    assert refused.status_code == 400
    assert refused.json()["type"] == "/problems/account-disabled"
    assert (await ask_for_link(gw, email)).status_code == 202  # and mails nothing
    assert len(login_mails(sink, email)) == 1
