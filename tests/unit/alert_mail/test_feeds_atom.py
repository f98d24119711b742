"""The Atom feed lists the alerts in effect, each linking to its CAP document."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from lxml import etree

from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.alerts_support import Staff, alert_body, compose, send_four_eyes
from tests.unit.alert_mail.conftest import AlertMail

ATOM = "http://www.w3.org/2005/Atom"
NS = {"atom": ATOM}


@pytest.fixture
def staff(tokens: TokenFactory) -> Staff:
    return Staff(tokens)


async def fetch_feed(alert_mail: AlertMail, **params: str) -> etree._Element:
    response = await alert_mail.client.get("/v1/feeds/alerts.atom", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(response.content)
    assert feed.tag == f"{{{ATOM}}}feed"
    # RFC 4287 4.1.1: a feed has exactly one id, title and updated, and an author.
    for name in ("id", "title", "updated", "author/atom:name"):
        assert len(feed.findall(f"atom:{name}", NS)) == 1, name
    return feed


def entries(feed: etree._Element) -> list[dict[str, str]]:
    found = []
    for entry in feed.findall("atom:entry", NS):
        for name in ("id", "title", "updated"):  # RFC 4287 4.1.2
            assert len(entry.findall(f"atom:{name}", NS)) == 1, name
        link = entry.find("atom:link[@rel='alternate']", NS)
        assert link is not None
        found.append(
            {
                "id": entry.findtext("atom:id", namespaces=NS) or "",
                "title": entry.findtext("atom:title", namespaces=NS) or "",
                "updated": entry.findtext("atom:updated", namespaces=NS) or "",
                "type": link.get("type") or "",
                "href": link.get("href") or "",
            }
        )
    return found


def body(alert_mail: AlertMail, headline: str, **changes: object) -> dict[str, object]:
    now = alert_mail.runtime.clock.now()
    content = {
        "ja": {"headline": headline, "body": "本文"},
        "en": {"headline": "EN " + headline, "body": "Body"},
    }
    return alert_body(now, content=content, **changes)


async def test_the_feed_lists_only_alerts_in_effect(alert_mail: AlertMail, staff: Staff) -> None:
    client = alert_mail.client
    now = alert_mail.runtime.clock.now()
    await compose(client, staff.author(), body(alert_mail, "下書き"))
    short = await send_four_eyes(
        client,
        staff,
        body(alert_mail, "まもなく終了", expires_at=(now + timedelta(minutes=30)).isoformat()),
    )
    cancelled = await send_four_eyes(client, staff, body(alert_mail, "取り消される"))
    updated = await send_four_eyes(
        client, staff, body(alert_mail, "更新される", districts=["hokubu"])
    )
    plain = await send_four_eyes(client, staff, body(alert_mail, "有効", districts=["tobu"]))
    update = await send_four_eyes(
        client,
        staff,
        body(
            alert_mail, "更新後", msg_type="Update", references=updated["id"], districts=["hokubu"]
        ),
    )
    cancel = await send_four_eyes(
        client,
        staff,
        body(
            alert_mail,
            "取り消し",
            msg_type="Cancel",
            references=cancelled["id"],
            districts=["seibu"],
        ),
    )
    await alert_mail.advance(timedelta(hours=1))

    feed = await fetch_feed(alert_mail)
    listed = entries(feed)
    assert [e["id"].rsplit("/", 1)[-1] for e in listed] == [cancel["id"], update["id"], plain["id"]]
    assert short["id"] not in str(listed)
    assert [e["title"] for e in listed] == ["【解除】取り消し", "【続報】更新後", "有効"]
    assert all(e["type"] == "application/cap+xml" for e in listed)
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "ja"
    assert feed.findtext("atom:updated", namespaces=NS) == listed[0]["updated"]
    for entry in listed:
        assert entry["id"].startswith("tag:city.demo.example.jp,2026:alerts/")
        cap = await client.get(urlsplit(entry["href"]).path)
        assert cap.status_code == 200
        assert cap.headers["content-type"].startswith("application/cap+xml")

    english = entries(await fetch_feed(alert_mail, lang="en"))
    assert [e["title"] for e in english] == [
        "Cancelled: EN 取り消し",
        "Update: EN 更新後",
        "EN 有効",
    ]
    in_tobu = entries(await fetch_feed(alert_mail, district="tobu"))
    assert [e["id"].rsplit("/", 1)[-1] for e in in_tobu] == [plain["id"]]
    bad = await client.get("/v1/feeds/alerts.atom", params={"lang": "fr"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.lang"


async def test_an_empty_feed_is_still_a_valid_feed(alert_mail: AlertMail) -> None:
    feed = await fetch_feed(alert_mail)
    assert entries(feed) == []
    self_link = feed.find("atom:link[@rel='self']", NS)
    assert self_link is not None
    assert self_link.get("href") == "http://city.test/v1/feeds/alerts.atom"
