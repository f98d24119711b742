"""Every sent alert is a CAP 1.2 document valid against the OASIS schema (data/CAP-v1.2.xsd):
plain alerts, updates and cancellations, in every language the alert was written in."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.alerts_support import Staff, alert_body, compose, send_four_eyes
from tests.unit.alert_mail.conftest import AlertMail

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
NS = {"cap": CAP}
XSD = Path(__file__).parent / "data" / "CAP-v1.2.xsd"
# CAP 1.2 section 3.2.1: no spaces, commas or restricted characters in identifier and sender;
# references are whitespace-separated "sender,identifier,sent" triples.
NO_SPACE_OR_COMMA = re.compile(r"[^\s,&<]+")
CAP_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d"
REFERENCE = re.compile(rf"[^\s,&<]+,[^\s,&<]+,{CAP_TIME}")


@cache
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture
def staff(tokens: TokenFactory) -> Staff:
    return Staff(tokens)


async def fetch_cap(alert_mail: AlertMail, alert_id: str) -> etree._Element:
    response = await alert_mail.client.get(f"/v1/feeds/cap/{alert_id}.xml")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/cap+xml")
    document = etree.fromstring(response.content)
    schema = cap_schema()
    assert schema.validate(document), schema.error_log
    return document


def text(element: etree._Element, path: str) -> str:
    found = element.find(path, NS)
    assert found is not None, path
    return found.text or ""


MULTILINGUAL = {
    "ja": {
        "headline": "中央・南部地区に避難指示",
        "body": "川の水位が氾濫危険水位を超えました。",
        "instruction": "直ちに指定緊急避難場所へ避難してください。",
    },
    "ja-plain": {
        "headline": "ちゅうおう・なんぶに にげる ように",
        "body": "かわの みずが あふれそうです。",
    },
    "en": {"headline": "Evacuation order for Chuo and South", "body": "The river is rising."},
    "zh": {"headline": "中央・南部地区发布避难指示", "body": "河水水位正在上涨。"},
    "ko": {"headline": "중앙・남부 지구에 대피 지시", "body": "강의 수위가 올라가고 있습니다."},
}


async def test_a_multilingual_alert_is_valid_cap(alert_mail: AlertMail, staff: Staff) -> None:
    now = alert_mail.runtime.clock.now()
    alert = await send_four_eyes(
        alert_mail.client,
        staff,
        alert_body(now, districts=["nanbu", "chuo"], content=MULTILINGUAL, severity="Extreme"),
    )
    cap = await fetch_cap(alert_mail, alert["id"])
    assert text(cap, "cap:identifier") == alert["id"]
    assert NO_SPACE_OR_COMMA.fullmatch(text(cap, "cap:identifier"))
    assert text(cap, "cap:sender") == "alert@city.demo.example.jp"
    assert re.fullmatch(CAP_TIME, text(cap, "cap:sent"))
    assert text(cap, "cap:sent").endswith("+09:00")
    assert [text(cap, f"cap:{name}") for name in ("status", "msgType", "scope")] == [
        "Actual",
        "Alert",
        "Public",
    ]
    assert cap.find("cap:references", NS) is None
    infos = cap.findall("cap:info", NS)
    assert [text(i, "cap:language") for i in infos] == [
        "ja-JP",
        "ja-JP-x-yasashii",
        "en-US",
        "zh-CN",
        "ko-KR",
    ]
    ja, plain, en, _zh, _ko = infos
    assert (text(ja, "cap:category"), text(ja, "cap:event")) == ("Safety", "災害情報")
    assert text(en, "cap:event") == "Disaster information"
    assert [text(ja, f"cap:{name}") for name in ("urgency", "severity", "certainty")] == [
        "Immediate",
        "Extreme",
        "Observed",
    ]
    assert text(ja, "cap:senderName") == "デモ市"
    assert text(en, "cap:senderName") == "Demo City"
    assert text(ja, "cap:headline") == MULTILINGUAL["ja"]["headline"]
    assert text(ja, "cap:instruction") == MULTILINGUAL["ja"]["instruction"]
    assert plain.find("cap:instruction", NS) is None
    assert text(ja, "cap:area/cap:areaDesc") == "中央、南部"
    assert text(en, "cap:area/cap:areaDesc") == "Chuo, South"
    assert text(ja, "cap:expires").endswith("+09:00")


async def test_updates_and_cancellations_carry_cap_references(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    now = alert_mail.runtime.clock.now()
    original = await send_four_eyes(client, staff, alert_body(now, districts=[]))
    original_cap = await fetch_cap(alert_mail, original["id"])
    assert text(original_cap, "cap:info/cap:area/cap:areaDesc") == "デモ市全域"
    await alert_mail.advance(timedelta(minutes=1))
    update = await send_four_eyes(
        client,
        staff,
        alert_body(
            now,
            msg_type="Update",
            references=original["id"],
            category="weather",
            content={"ja": {"headline": "大雨警報に切り替え", "body": "引き続き警戒してください"}},
        ),
    )
    cancel = await send_four_eyes(
        client,
        staff,
        alert_body(
            now,
            msg_type="Cancel",
            references=update["id"],
            content={"ja": {"headline": "警報解除", "body": "大雨警報は解除されました"}},
        ),
    )
    for sent, referenced, msg_type in ((update, original, "Update"), (cancel, update, "Cancel")):
        cap = await fetch_cap(alert_mail, sent["id"])
        assert text(cap, "cap:msgType") == msg_type
        references = text(cap, "cap:references")
        assert REFERENCE.fullmatch(references), references
        referenced_cap = await fetch_cap(alert_mail, referenced["id"])
        assert references == ",".join(
            text(referenced_cap, f"cap:{name}") for name in ("sender", "identifier", "sent")
        )
    update_cap = await fetch_cap(alert_mail, update["id"])
    assert text(update_cap, "cap:info/cap:category") == "Met"


async def test_only_sent_alerts_have_a_cap_document(
    alert_mail: AlertMail, staff: Staff, tokens: TokenFactory
) -> None:
    draft = await compose(
        alert_mail.client, staff.author(), alert_body(alert_mail.runtime.clock.now())
    )
    for path in (
        f"/v1/feeds/cap/{draft['id']}.xml",
        "/v1/feeds/cap/alt_00000000000000000000000000.xml",
    ):
        response = await alert_mail.client.get(path, headers=tokens.admin())
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    malformed = await alert_mail.client.get("/v1/feeds/cap/not-an-id.xml")
    assert malformed.status_code == 422
