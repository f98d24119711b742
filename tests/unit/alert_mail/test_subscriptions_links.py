"""Personal manage and unsubscribe links (the ones every alert mail carries), RFC 8058
one-click unsubscribe, and a citizen's own subscriptions."""

from __future__ import annotations

from tests.unit.alert_mail.conftest import BROWSER, AlertMail
from tests.unit.alert_mail.subscription_support import (
    confirmation_token,
    personal_token,
    reach,
    sign_up,
    subscribe_confirmed,
    subscription,
)


async def test_one_click_post_unsubscribes_without_auth_and_is_idempotent(
    alert_mail: AlertMail,
) -> None:
    confirmed = await subscribe_confirmed(alert_mail, "oneclick@example.jp")
    token = personal_token(alert_mail, "unsubscribe", confirmed["id"], 0)
    url = "/v1/subscriptions/unsubscribe"

    page = await alert_mail.client.get(url, params={"token": token})
    assert page.status_code == 200
    assert "oneclick@example.jp" in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert await reach(alert_mail) == 1  # opening the page changed nothing

    body = {"List-Unsubscribe": "One-Click"}
    response = await alert_mail.client.post(url, params={"token": token}, data=body)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    stored = await subscription(alert_mail, "oneclick@example.jp")
    assert stored is not None
    assert stored.status == "unsubscribed"
    assert stored.unsubscribed_at is not None
    assert await reach(alert_mail) == 0

    multipart = await alert_mail.client.post(
        url, params={"token": token}, files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert multipart.status_code == 200  # again, as multipart/form-data: still fine


async def test_one_click_needs_the_rfc_8058_body(alert_mail: AlertMail) -> None:
    confirmed = await subscribe_confirmed(alert_mail, "nobody-clicked@example.jp")
    token = personal_token(alert_mail, "unsubscribe", confirmed["id"], 0)
    response = await alert_mail.client.post(
        "/v1/subscriptions/unsubscribe", params={"token": token}, data={"other": "x"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "List-Unsubscribe"
    assert await reach(alert_mail) == 1


async def test_the_page_button_answers_with_a_page(alert_mail: AlertMail) -> None:
    confirmed = await subscribe_confirmed(alert_mail, "browser@example.jp", language="en")
    token = personal_token(alert_mail, "unsubscribe", confirmed["id"], 0)
    response = await alert_mail.client.post(
        "/v1/subscriptions/unsubscribe",
        params={"token": token},
        data={"List-Unsubscribe": "One-Click"},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert "You are unsubscribed" in response.text


async def test_links_of_another_purpose_or_a_forged_mac_are_refused(alert_mail: AlertMail) -> None:
    confirmed = await subscribe_confirmed(alert_mail, "purpose@example.jp")
    manage = personal_token(alert_mail, "manage", confirmed["id"], 0)
    wrong = await alert_mail.client.post(
        "/v1/subscriptions/unsubscribe",
        params={"token": manage},
        data={"List-Unsubscribe": "One-Click"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "token"
    forged = manage[:-4] + ("AAAA" if not manage.endswith("AAAA") else "BBBB")
    read = await alert_mail.client.get("/v1/subscriptions/by-token", params={"token": forged})
    assert read.status_code == 422
    assert await reach(alert_mail) == 1


async def test_resubscribing_through_double_opt_in_kills_the_old_links(
    alert_mail: AlertMail,
) -> None:
    confirmed = await subscribe_confirmed(alert_mail, "again@example.jp")
    old_unsubscribe = personal_token(alert_mail, "unsubscribe", confirmed["id"], 0)
    old_manage = personal_token(alert_mail, "manage", confirmed["id"], 0)
    await alert_mail.client.post(
        "/v1/subscriptions/unsubscribe",
        params={"token": old_unsubscribe},
        data={"List-Unsubscribe": "One-Click"},
    )
    await sign_up(alert_mail, "again@example.jp", categories=["weather"])
    token = await confirmation_token(alert_mail, "again@example.jp", count=2)
    renewed = await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token})
    assert renewed.json()["id"] == confirmed["id"]
    assert renewed.json()["status"] == "active"
    stored = await subscription(alert_mail, "again@example.jp")
    assert stored is not None
    assert stored.link_version == 1

    stale = await alert_mail.client.get("/v1/subscriptions/by-token", params={"token": old_manage})
    assert stale.status_code == 422
    assert stale.json()["type"] == "/problems/invalid-link"
    stale_page = await alert_mail.client.get(
        "/v1/subscriptions/manage", params={"token": old_manage}, headers=BROWSER
    )
    assert stale_page.status_code == 422
    assert "このリンクは使えません" in stale_page.text
    stale_click = await alert_mail.client.post(
        "/v1/subscriptions/unsubscribe",
        params={"token": old_unsubscribe},
        data={"List-Unsubscribe": "One-Click"},
    )
    assert stale_click.status_code == 422
    assert stale_click.json()["type"] == "/problems/invalid-link"
    assert await reach(alert_mail, category="weather") == 1

    new_manage = renewed.json()["manage_url"].split("token=")[1]
    fresh = await alert_mail.client.get("/v1/subscriptions/by-token", params={"token": new_manage})
    assert fresh.status_code == 200
    assert fresh.json()["categories"] == ["weather"]


async def test_manage_page_shows_and_changes_the_choices(alert_mail: AlertMail) -> None:
    confirmed = await subscribe_confirmed(
        alert_mail, "manage@example.jp", categories=["disaster", "weather"], districts=["chuo"]
    )
    token = personal_token(alert_mail, "manage", confirmed["id"], 0)
    page = await alert_mail.client.get("/v1/subscriptions/manage", params={"token": token})
    assert page.status_code == 200
    assert "manage@example.jp" in page.text
    assert 'name="categories" value="weather" checked' in page.text
    assert 'name="districts" value="chuo" checked' in page.text
    assert 'name="districts" value="nanbu">' in page.text
    assert '<label for="categories-weather">気象情報</label>' in page.text

    saved = await alert_mail.client.post(
        "/v1/subscriptions/manage",
        params={"token": token},
        data={"action": "save", "categories": ["weather"], "language": "ko"},
    )
    assert saved.status_code == 200
    assert '<html lang="ko">' in saved.text
    assert "변경 내용을 저장했습니다" in saved.text
    assert await reach(alert_mail, category="weather", districts=["nanbu"]) == 1  # city-wide now
    assert await reach(alert_mail, category="disaster") == 0

    refused = await alert_mail.client.post(
        "/v1/subscriptions/manage",
        params={"token": token},
        data={"action": "save"},
        headers=BROWSER,
    )
    assert refused.status_code == 422
    assert "받을 정보를 하나 이상 선택해 주세요" in refused.text
    by_a_script = await alert_mail.client.post(
        "/v1/subscriptions/manage", params={"token": token}, data={"action": "save"}
    )
    assert by_a_script.status_code == 422
    assert by_a_script.headers["content-type"] == "application/problem+json"
    assert by_a_script.json()["errors"][0]["field"] in {"categories", "body"}
    assert await reach(alert_mail, category="weather") == 1


async def test_manage_page_resumes_a_stopped_subscription(alert_mail: AlertMail) -> None:
    confirmed = await subscribe_confirmed(alert_mail, "resume@example.jp")
    token = personal_token(alert_mail, "manage", confirmed["id"], 0)
    stop = await alert_mail.client.patch(
        "/v1/subscriptions/by-token", params={"token": token}, json={"status": "unsubscribed"}
    )
    assert stop.json()["status"] == "unsubscribed"
    page = await alert_mail.client.get("/v1/subscriptions/manage", params={"token": token})
    assert "配信を停止しています" in page.text
    assert 'value="resubscribe"' in page.text
    resumed = await alert_mail.client.post(
        "/v1/subscriptions/manage", params={"token": token}, data={"action": "resubscribe"}
    )
    assert resumed.status_code == 200
    assert "配信中です" in resumed.text
    assert await reach(alert_mail) == 1


async def test_patch_by_token_refuses_unknown_fields_and_codes(alert_mail: AlertMail) -> None:
    confirmed = await subscribe_confirmed(alert_mail, "patch@example.jp")
    token = personal_token(alert_mail, "manage", confirmed["id"], 0)
    url = "/v1/subscriptions/by-token"
    extra = await alert_mail.client.patch(url, params={"token": token}, json={"email": "x@y.jp"})
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["field"] == "email"
    unknown = await alert_mail.client.patch(
        url, params={"token": token}, json={"districts": ["chuo", "atlantis"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "districts[1]"


async def test_citizens_see_and_change_only_their_own(alert_mail: AlertMail) -> None:
    taro = alert_mail.tokens.citizen("cit_taro")
    jiro = alert_mail.tokens.citizen("cit_jiro")
    await sign_up(alert_mail, "taro@example.jp", headers=taro)
    token = await confirmation_token(alert_mail, "taro@example.jp")
    await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token})
    await sign_up(alert_mail, "jiro@example.jp")
    token = await confirmation_token(alert_mail, "jiro@example.jp")
    await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token}, headers=jiro)

    mine = (await alert_mail.client.get("/v1/subscriptions/mine", headers=taro)).json()
    assert [s["email"] for s in mine["items"]] == ["taro@example.jp"]
    assert mine["next_cursor"] is None
    theirs = (await alert_mail.client.get("/v1/subscriptions/mine", headers=jiro)).json()
    assert [s["email"] for s in theirs["items"]] == ["jiro@example.jp"]
    taro_id = mine["items"][0]["id"]

    path = f"/v1/subscriptions/mine/{taro_id}"
    assert (await alert_mail.client.delete(path, headers=jiro)).status_code == 404
    patched = await alert_mail.client.patch(path, json={"language": "en"}, headers=jiro)
    assert patched.status_code == 404
    assert (await alert_mail.client.get("/v1/subscriptions/mine")).status_code == 401
    staff = alert_mail.tokens.staff("stf_a", "alert_publisher", department="bosai")
    assert (await alert_mail.client.get("/v1/subscriptions/mine", headers=staff)).status_code == 403

    patched = await alert_mail.client.patch(path, json={"districts": ["tobu"]}, headers=taro)
    assert patched.status_code == 200
    assert patched.json()["districts"] == ["tobu"]
    assert (await alert_mail.client.delete(path, headers=taro)).status_code == 204
    stored = await subscription(alert_mail, "taro@example.jp")
    assert stored is not None
    assert stored.status == "unsubscribed"
    resumed = await alert_mail.client.patch(path, json={"status": "active"}, headers=taro)
    assert resumed.json()["status"] == "active"

    history = await alert_mail.client.get(f"{path}/events", headers=taro)
    assert history.status_code == 200, history.text
    assert [
        (e["transition"], e["from_state"], e["to_state"], e["actor"])
        for e in history.json()["items"]
    ] == [
        ("confirm", None, "active", None),  # the mailed link, opened without a login
        ("unsubscribe", "active", "unsubscribed", "cit_taro"),
        ("resubscribe", "unsubscribed", "active", "cit_taro"),
    ]
    assert (await alert_mail.client.get(f"{path}/events", headers=jiro)).status_code == 404
    one = await alert_mail.client.get(f"{path}/events", params={"limit": 1}, headers=taro)
    rest = await alert_mail.client.get(
        f"{path}/events", params={"cursor": one.json()["next_cursor"]}, headers=taro
    )
    assert [e["transition"] for e in rest.json()["items"]] == ["unsubscribe", "resubscribe"]


async def test_a_link_minted_while_logged_in_never_takes_over_an_owned_subscription(
    alert_mail: AlertMail,
) -> None:
    owner = alert_mail.tokens.citizen("cit_owner")
    other = alert_mail.tokens.citizen("cit_other")
    await sign_up(alert_mail, "shared@example.jp", headers=owner)
    token = await confirmation_token(alert_mail, "shared@example.jp")
    await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token})
    await sign_up(alert_mail, "shared@example.jp", headers=other)
    token = await confirmation_token(alert_mail, "shared@example.jp", count=2)
    await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token})
    stored = await subscription(alert_mail, "shared@example.jp")
    assert stored is not None
    assert stored.owner == "cit_owner"
    listed = (await alert_mail.client.get("/v1/subscriptions/mine", headers=other)).json()
    assert listed["items"] == []


async def test_a_token_with_non_ascii_text_is_an_invalid_link_not_a_500(
    alert_mail: AlertMail,
) -> None:
    token = {"token": "sub_x.1.\u00e9"}
    answer = await alert_mail.client.get("/v1/subscriptions/by-token", params=token)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith("/invalid-link")
    assert [e["field"] for e in problem["errors"]] == ["token"]
    page = await alert_mail.client.get("/v1/subscriptions/manage", params=token, headers=BROWSER)
    assert page.status_code == 422, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "<form" not in page.text  # the link-problem page, not a manage form
