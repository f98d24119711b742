"""The mailed confirmation link only shows a button: opening it (as a mail scanner does)
confirms nothing; the button's form post does. The mail comes from the city's sender name."""

from __future__ import annotations

import html
import re
from email.utils import parseaddr

from deploy.mailsink import MailSink
from tests.unit.gateway_app.support import Gateway

from .helpers import PASSWORD, link_in, password_login

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_opening_the_link_confirms_nothing_and_the_button_does(
    gw: Gateway, sink: MailSink
) -> None:
    email = "scanner@example.jp"
    registered = await gw.client.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "display_name": "走査 太郎"}
    )
    assert registered.status_code == 202
    (message,) = await sink.wait_for(to=email)
    assert parseaddr(message.header("From") or "")[0] == "デモ市役所"
    assert message.text is not None
    link = link_in(message.text, "/auth/verify-email")

    for _ in range(2):  # a scanner, then the person
        page = await gw.client.get(link)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "<script" not in page.text
    assert (await password_login(gw, email)).json()["type"].endswith("/email-not-verified")

    form = re.search(r'<form method="post" action="([^"]+)">', page.text)
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert form is not None
    assert token is not None
    done = await gw.client.post(
        form.group(1), data={"token": html.unescape(token.group(1))}, headers=BROWSER
    )
    assert done.status_code == 200
    assert "確認が完了しました" in done.text
    assert (await password_login(gw, email)).status_code == 200


async def test_a_forged_token_posted_by_the_form_gets_a_page(gw: Gateway) -> None:
    refused = await gw.client.post("/auth/verify-email", data={"token": "forged"}, headers=BROWSER)
    assert refused.status_code >= 400
    assert refused.headers["content-type"].startswith("text/html")
    assert "リンクが無効です" in refused.text
    # Only a browser asks for the page; any other client posting the form gets the problem.
    plain = await gw.client.post("/auth/verify-email", data={"token": "forged"})
    assert plain.status_code == refused.status_code
    assert plain.headers["content-type"] == "application/problem+json"
    problem = await gw.client.post("/auth/verify-email", json={"token": "forged"})
    assert problem.headers["content-type"] == "application/problem+json"
