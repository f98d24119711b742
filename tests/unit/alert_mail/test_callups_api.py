"""Staff call-up through the API: a mail per member with a personal reply link, replies by
form and JSON, the summary, closing, and who may do and see what."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.unit.alert_mail.callups_support import (
    MEMBERS,
    audit_events,
    make_callup,
    make_group,
    publisher,
    queued_mails,
    read_form,
    reply_json,
    reply_link,
    token_of,
    tokens_by_email,
)
from tests.unit.alert_mail.conftest import BROWSER, PUBLIC_URL, AlertMail


async def test_a_callup_queues_one_emergency_mail_per_member_with_a_personal_link(
    alert_mail: AlertMail,
) -> None:
    group_id = await make_group(alert_mail)
    callup = await make_callup(alert_mail, group_id)

    assert callup["status"] == "open"
    assert callup["recipients"] == len(MEMBERS)
    assert callup["group_name"] == "災害対策本部員"
    mails = await queued_mails(alert_mail)
    assert sorted(m.email for m in mails) == sorted(email for _, email in MEMBERS)
    assert {m.priority for m in mails} == {0}
    assert {m.subject for m in mails} == {"【職員参集】震度6弱の地震"}
    for name, email in MEMBERS:
        [mail] = [m for m in mails if m.email == email]
        assert mail.text.startswith(f"{name} 様")
        assert "直ちに参集してください。" in mail.text
    links = {reply_link(m.text) for m in mails}
    assert len(links) == len(MEMBERS)  # personal: no two members share a link


async def test_the_mail_in_the_smtp_sink_links_to_the_reply_page(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    await make_callup(alert_mail, group_id)
    name, email = MEMBERS[0]

    [message] = await alert_mail.sink.wait_for(to=email, count=1, within=10)

    assert message.subject == "【職員参集】震度6弱の地震"
    assert message.text is not None
    link = reply_link(message.text)
    page = await alert_mail.client.get(link.removeprefix(PUBLIC_URL))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"{name} 様" in page.text
    form = read_form(page.text)
    assert form.radios == ["safe", "injured", "cannot_come"]
    assert form.labels["status"] == "無事です"
    assert form.labels["arrival_minutes"] == "○分後に参集できます"
    assert form.fields["token"] == token_of(link)


async def test_the_reply_form_posts_as_a_browser_would_and_confirms(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    callup = await make_callup(alert_mail, group_id)
    token = (await tokens_by_email(alert_mail))[MEMBERS[0][1]]
    page_url = f"/v1/callups/reply?token={token}"
    form = read_form((await alert_mail.client.get(page_url)).text)
    assert form.action is not None

    fields = form.fields | {
        "status": "safe",
        "arrival_minutes": "４５",
        "comment": "車で向かいます",
    }
    done = await alert_mail.client.post(urljoin(page_url, form.action), data=fields)

    assert done.status_code == 200, done.text
    assert "回答を受け付けました" in done.text
    assert "45分後に参集できます" in done.text
    change = re.search(r'href="(reply\?token=[^"]+)"', done.text)
    assert change is not None
    again = await alert_mail.client.get(urljoin(page_url, html.unescape(change.group(1))))
    assert read_form(again.text).fields["arrival_minutes"] == "45"
    summary = await alert_mail.client.get(
        f"/v1/callups/{callup['id']}/summary", headers=publisher(alert_mail)
    )
    assert summary.json()["by_status"]["safe"] == 1
    assert summary.json()["arrival_buckets"][1] == {
        "label": "le_60",
        "min_minutes": 31,
        "max_minutes": 60,
        "count": 1,
    }


async def test_a_json_reply_is_recorded_and_the_latest_reply_wins(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    callup = await make_callup(alert_mail, group_id)
    token = (await tokens_by_email(alert_mail))[MEMBERS[1][1]]

    first = await reply_json(alert_mail, token, status="safe", arrival_minutes=20)
    await alert_mail.advance(timedelta(minutes=5))
    second = await reply_json(alert_mail, token, status="injured", comment="足を負傷")

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.json()["status"] == "injured"
    assert second.json()["expected_arrival_at"] is None
    summary = (
        await alert_mail.client.get(
            f"/v1/callups/{callup['id']}/summary", headers=publisher(alert_mail)
        )
    ).json()
    assert summary["by_status"] == {"safe": 0, "injured": 1, "cannot_come": 0}
    assert summary["replied"] == 1
    assert summary["coming"] == 0
    recipients = (
        await alert_mail.client.get(
            f"/v1/callups/{callup['id']}/recipients", headers=publisher(alert_mail)
        )
    ).json()["items"]
    [hanako] = [r for r in recipients if r["email"] == MEMBERS[1][1]]
    assert hanako["latest_reply"]["status"] == "injured"
    assert hanako["latest_reply"]["comment"] == "足を負傷"
    # the earlier answer is history, not lost: the page offers it as the previous answer
    page = await alert_mail.client.get(f"/v1/callups/reply?token={token}")
    assert "前回の回答" in page.text
    assert "けがをしています" in page.text
    assert len(await audit_events(alert_mail, "callup.replied")) == 2


async def test_summary_counts_statuses_buckets_hours_and_names_who_has_not_replied(
    alert_mail: AlertMail,
) -> None:
    members = tuple((f"職員 {n}", f"member{n}@city.test.example.jp") for n in range(6))
    group_id = await make_group(alert_mail, members=members)
    callup = await make_callup(alert_mail, group_id)
    tokens = await tokens_by_email(alert_mail)
    answers: list[tuple[int, dict[str, Any]]] = [
        (0, {"status": "safe", "arrival_minutes": 0}),
        (1, {"status": "safe", "arrival_minutes": 30}),
        (2, {"status": "injured", "arrival_minutes": 90}),
        (3, {"status": "safe", "arrival_minutes": 121}),
        (4, {"status": "cannot_come"}),
    ]
    for index, body in answers:
        response = await reply_json(alert_mail, tokens[members[index][1]], **body)
        assert response.status_code == 201, response.text

    summary = (
        await alert_mail.client.get(
            f"/v1/callups/{callup['id']}/summary", headers=publisher(alert_mail)
        )
    ).json()

    assert summary["recipients"] == 6
    assert summary["replied"] == 5
    assert summary["by_status"] == {"safe": 3, "injured": 1, "cannot_come": 1}
    assert summary["coming"] == 4
    assert [(b["label"], b["count"]) for b in summary["arrival_buckets"]] == [
        ("le_30", 2),
        ("le_60", 0),
        ("le_120", 1),
        ("gt_120", 1),
    ]
    assert summary["not_replied_count"] == 1
    assert [p["name"] for p in summary["not_replied"]] == ["職員 5"]
    hours = summary["expected_by_hour"]
    assert sum(h["arriving"] for h in hours) == 4
    assert hours[-1]["cumulative"] == 4
    assert all(h["hour"].endswith("+09:00") and ":00:00" in h["hour"] for h in hours)
    assert summary["delivery"]
    assert sum(summary["delivery"].values()) == 6


async def test_a_closed_callup_refuses_replies_as_json_form_and_page(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    callup = await make_callup(alert_mail, group_id)
    token = (await tokens_by_email(alert_mail))[MEMBERS[0][1]]

    closed = await alert_mail.client.post(
        f"/v1/callups/{callup['id']}/close", headers=publisher(alert_mail)
    )
    again = await alert_mail.client.post(
        f"/v1/callups/{callup['id']}/close", headers=publisher(alert_mail)
    )
    as_json = await reply_json(alert_mail, token, status="safe")
    as_form = await alert_mail.client.post(
        "/v1/callups/reply",
        data={"token": token, "status": "safe", "arrival_minutes": ""},
        headers=BROWSER,
    )
    form_by_a_script = await alert_mail.client.post(
        "/v1/callups/reply", data={"token": token, "status": "safe", "arrival_minutes": ""}
    )
    page = await alert_mail.client.get(f"/v1/callups/reply?token={token}")

    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"] is not None
    assert again.status_code == 409
    assert again.json()["current_state"] == "closed"
    assert as_json.status_code == 409
    assert as_json.headers["content-type"].startswith("application/problem+json")
    assert as_json.json()["current_state"] == "closed"
    assert as_form.status_code == 409
    assert "締め切られました" in as_form.text
    assert form_by_a_script.status_code == 409
    assert form_by_a_script.headers["content-type"] == "application/problem+json"
    assert form_by_a_script.json()["current_state"] == "closed"
    assert page.status_code == 200
    assert "締め切られました" in page.text
    assert "<form" not in page.text


async def test_bad_tokens_get_a_problem_or_a_friendly_page(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    await make_callup(alert_mail, group_id)
    token = (await tokens_by_email(alert_mail))[MEMBERS[0][1]]
    recipient, version, mac = token.split(".")
    forged = f"{recipient}.{int(version) + 1}.{mac}"

    as_json = await reply_json(alert_mail, forged, status="safe")
    as_form = await alert_mail.client.post(
        "/v1/callups/reply", data={"token": "nonsense", "status": "safe"}, headers=BROWSER
    )
    page = await alert_mail.client.get("/v1/callups/reply?token=rcp_X.0.abc", headers=BROWSER)
    not_a_browser = await alert_mail.client.get("/v1/callups/reply?token=rcp_X.0.abc")
    superscript = await alert_mail.client.get("/v1/callups/reply", params={"token": "rcp_X.².a"})

    assert as_json.status_code == 404
    assert as_json.json()["errors"][0]["field"] == "token"
    assert as_form.status_code == 404
    assert "このリンクは使えません" in as_form.text
    assert page.status_code == 404
    assert "このリンクは使えません" in page.text
    assert superscript.status_code == 404
    assert not_a_browser.status_code == 404
    assert not_a_browser.headers["content-type"] == "application/problem+json"


async def test_reply_validation_names_the_field(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    await make_callup(alert_mail, group_id)
    token = (await tokens_by_email(alert_mail))[MEMBERS[0][1]]

    too_late = await reply_json(alert_mail, token, status="safe", arrival_minutes=1441)
    negative = await reply_json(alert_mail, token, status="safe", arrival_minutes=-1)
    cannot_but_minutes = await reply_json(
        alert_mail, token, status="cannot_come", arrival_minutes=10
    )
    unknown_status = await reply_json(alert_mail, token, status="maybe")
    unknown_field = await reply_json(alert_mail, token, status="safe", mood="ok")
    not_json = await alert_mail.client.post(
        "/v1/callups/reply", content=b"{", headers={"content-type": "application/json"}
    )
    plain_text = await alert_mail.client.post(
        "/v1/callups/reply", content=b"safe", headers={"content-type": "text/plain"}
    )

    def fields(response: httpx.Response) -> list[str]:
        return [e["field"] for e in response.json()["errors"]]

    assert too_late.status_code == 422
    assert fields(too_late) == ["arrival_minutes"]
    assert negative.status_code == 422
    assert fields(negative) == ["arrival_minutes"]
    assert cannot_but_minutes.status_code == 422
    assert fields(cannot_but_minutes) == ["arrival_minutes"]
    assert unknown_status.status_code == 422
    assert fields(unknown_status) == ["status"]
    assert unknown_field.status_code == 422
    assert fields(unknown_field) == ["mood"]
    assert not_json.status_code == 422
    assert fields(not_json) == ["body"]
    assert plain_text.status_code == 415
    assert plain_text.headers["content-type"].startswith("application/problem+json")


async def test_a_form_with_a_mistake_is_shown_again_with_the_error_at_the_field(
    alert_mail: AlertMail,
) -> None:
    group_id = await make_group(alert_mail)
    callup = await make_callup(alert_mail, group_id)
    token = (await tokens_by_email(alert_mail))[MEMBERS[0][1]]

    response = await alert_mail.client.post(
        "/v1/callups/reply",
        data={"token": token, "status": "safe", "arrival_minutes": "2000", "comment": "x"},
        headers=BROWSER,
    )
    as_problem = await alert_mail.client.post(
        "/v1/callups/reply",
        data={"token": token, "status": "safe", "arrival_minutes": "2000", "comment": "x"},
    )

    assert as_problem.status_code == 422
    assert as_problem.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in as_problem.json()["errors"]] == ["arrival_minutes"]
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert 'id="arrival_minutes-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert read_form(response.text).fields["arrival_minutes"] == "2000"  # kept for correcting
    summary = (
        await alert_mail.client.get(
            f"/v1/callups/{callup['id']}/summary", headers=publisher(alert_mail)
        )
    ).json()
    assert summary["replied"] == 0


async def test_a_resent_link_replaces_the_old_one(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    callup = await make_callup(alert_mail, group_id)
    old = (await tokens_by_email(alert_mail))[MEMBERS[2][1]]
    recipient_id = old.split(".")[0]

    resent = await alert_mail.client.post(
        f"/v1/callups/{callup['id']}/recipients/{recipient_id}/resend",
        headers=publisher(alert_mail),
    )
    new = (await tokens_by_email(alert_mail))[MEMBERS[2][1]]

    assert resent.status_code == 202
    assert new != old
    assert (await reply_json(alert_mail, old, status="safe")).status_code == 404
    assert (await reply_json(alert_mail, new, status="safe")).status_code == 201
    assert len(await queued_mails(alert_mail)) == len(MEMBERS) + 1


async def test_an_idempotent_create_sends_once(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    body = {"group_id": group_id, "title": "参集", "message": "参集してください"}
    headers = publisher(alert_mail) | {"Idempotency-Key": "callup-1"}

    first = await alert_mail.client.post("/v1/callups", json=body, headers=headers)
    replay = await alert_mail.client.post("/v1/callups", json=body, headers=headers)

    assert first.status_code == 201
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    assert len(await queued_mails(alert_mail)) == len(MEMBERS)
