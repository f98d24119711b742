"""The call-up rules as plain functions: state machine, summary arithmetic, access, the form
and the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.alert_mail.domain import callup_form, callup_mail, callup_pages
from services.alert_mail.domain.callup_access import may_read, may_send
from services.alert_mail.domain.callup_lifecycle import CALLUPS, CallupState, accepts_replies
from services.alert_mail.domain.callup_replies import ReplyStatus
from services.alert_mail.domain.callup_summary import (
    LatestReply,
    Person,
    bucket_label,
    summarise,
)
from services.kit.errors import IllegalTransition

T0 = datetime(2026, 11, 21, 4, 50, tzinfo=UTC)  # 13:50 JST


def test_a_callup_takes_replies_until_it_is_closed() -> None:
    assert CALLUPS.apply("open", "reply") is CallupState.OPEN
    assert CALLUPS.apply("open", "close") is CallupState.CLOSED
    with pytest.raises(IllegalTransition) as refused:
        CALLUPS.apply("closed", "reply")
    assert refused.value.current_state == "closed"
    with pytest.raises(IllegalTransition):
        CALLUPS.apply("closed", "close")
    assert accepts_replies(CallupState.OPEN)
    assert not accepts_replies("closed")


@pytest.mark.parametrize(
    ("minutes", "label"),
    [(0, "le_30"), (30, "le_30"), (31, "le_60"), (60, "le_60"), (120, "le_120"), (121, "gt_120")],
)
def test_arrival_buckets_include_their_upper_bound(minutes: int, label: str) -> None:
    assert bucket_label(minutes) == label


def test_expected_staff_by_hour_counts_from_each_reply_in_jst() -> None:
    people = [Person(f"rcp_{n}", f"職員{n}") for n in range(5)]
    latest = {
        "rcp_0": LatestReply(ReplyStatus.SAFE, 5, T0),  # 13:55 JST
        "rcp_1": LatestReply(ReplyStatus.SAFE, 15, T0),  # 14:05
        "rcp_2": LatestReply(ReplyStatus.INJURED, 20, T0 + timedelta(minutes=50)),  # 15:00
        "rcp_3": LatestReply(ReplyStatus.CANNOT_COME, None, T0),
    }

    summary = summarise(people, latest)

    assert [(h.hour.hour, h.arriving, h.cumulative) for h in summary.expected_by_hour] == [
        (13, 1, 1),
        (14, 1, 2),
        (15, 1, 3),
    ]
    assert summary.expected_by_hour[0].hour.utcoffset() == timedelta(hours=9)
    assert summary.by_status == {"safe": 2, "injured": 1, "cannot_come": 1}
    assert summary.coming == 3
    assert [p.name for p in summary.not_replied] == ["職員4"]


def test_an_empty_callup_summarises_to_zeros() -> None:
    summary = summarise([Person("rcp_a", "A")], {})
    assert summary.replied == 0
    assert [b.count for b in summary.arrival_buckets] == [0, 0, 0, 0]
    assert summary.expected_by_hour == []


def test_who_may_send_and_read() -> None:
    assert may_send({"emergency_publisher"}, "somu", "bosai")
    assert may_send({"alert_publisher"}, "bosai", "bosai")
    assert not may_send({"alert_publisher"}, "zeimu", "bosai")
    assert not may_send({"approver"}, "bosai", "bosai")
    assert may_read(set(), "bosai", "s1", callup_department="bosai", created_by="s2")
    assert may_read(set(), "somu", "s1", callup_department="bosai", created_by="s1")
    assert not may_read(set(), "somu", "s1", callup_department="bosai", created_by="s2")
    assert may_read({"admin"}, None, "s1", callup_department="bosai", created_by="s2")


def test_the_form_reads_like_a_browser_sends_it() -> None:
    raw = "token=t&status=safe&arrival_minutes=%EF%BC%93%EF%BC%90&comment=&token=second"
    values = callup_form.parse_form(raw.encode())
    body = callup_form.form_body(values)
    assert body == {"token": "t", "status": "safe", "arrival_minutes": "30", "comment": None}
    with pytest.raises(callup_form.FormUnreadable):
        callup_form.parse_form(b"comment=%FF")
    with pytest.raises(callup_form.FormUnreadable):
        callup_form.parse_form(b"&".join(b"f%d=1" % n for n in range(50)))


def _view(**overrides: object) -> callup_pages.ReplyPageView:
    values: dict[str, object] = {
        "token": "rcp_1.0.mac",
        "recipient_name": "防災 太郎",
        "group_name": "災害対策本部員",
        "title": "<script>alert(1)</script>",
        "message": "参集してください\n第2庁舎へ",
        "sent_at": T0,
        "closed_at": None,
        "latest": None,
    }
    values.update(overrides)
    return callup_pages.ReplyPageView(**values)  # type: ignore[arg-type]


def test_pages_escape_what_staff_typed_and_label_every_control() -> None:
    html = callup_pages.form_page(_view())
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<html lang="ja">' in html
    assert 'name="viewport"' in html
    for control in ("status", "status-injured", "status-cannot_come", "arrival_minutes", "comment"):
        assert f'for="{control}"' in html
        assert f'id="{control}"' in html


def test_the_closed_page_has_no_form_and_says_when_it_closed() -> None:
    html = callup_pages.closed_page(_view(closed_at=T0 + timedelta(hours=2)))
    assert "<form" not in html
    assert "2026年11月21日（土）15時50分" in html


def test_the_mail_names_the_member_and_carries_the_link() -> None:
    mail = callup_mail.render(
        recipient_name="防災 太郎",
        group_name="災害対策本部員",
        title="震度6弱",
        message="参集してください",
        url="http://city.test/v1/callups/reply?token=abc",
        sent_at=T0,
    )
    assert mail.subject == "【職員参集】震度6弱"
    assert mail.text.splitlines()[0] == "防災 太郎 様"
    assert "http://city.test/v1/callups/reply?token=abc\n" in mail.text
    assert "2026年11月21日（土）13時50分" in mail.text
