"""Small flows the identity provider tests share."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from deploy.mailsink import MailSink
from tests.unit.gateway_app.support import Gateway

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PASSWORD = "correct horse battery"


def link_in(text: str, path: str) -> str:
    match = re.search(rf"http://gateway\.test{re.escape(path)}\?token=[^\s]+", text)
    assert match is not None, text
    parts = urlsplit(match.group(0))
    return f"{parts.path}?{parts.query}"


async def register_and_verify(
    gw: Gateway, sink: MailSink, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    response = await gw.client.post(
        "/auth/register",
        json={"email": email, "password": password, "display_name": "市民 太郎"},
    )
    assert response.status_code == 202, response.text
    (message,) = await sink.wait_for(to=email)
    assert message.text is not None
    page = await gw.client.get(link_in(message.text, "/auth/verify-email"))
    assert page.status_code == 200, page.text
    token = parse_qs(urlsplit(link_in(message.text, "/auth/verify-email")).query)["token"][0]
    assert f'value="{token}"' in page.text  # the page only shows a button posting it
    verified = await gw.client.post("/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    body: dict[str, Any] = verified.json()
    return body


async def password_login(gw: Gateway, email: str, password: str = PASSWORD, **extra: str) -> Any:
    return await gw.client.post(
        "/auth/token",
        data={"grant_type": "password", "username": email, "password": password, **extra},
        headers=FORM,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
