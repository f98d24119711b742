"""Template rendering rules (domain/templates.py) and the template state machine."""

from __future__ import annotations

import pytest

from services.alert_mail.domain import templates
from services.alert_mail.domain.templates_lifecycle import (
    TEMPLATES,
    TemplateState,
    TemplateTransition,
)
from services.kit.errors import IllegalTransition, UnprocessableContent

SUBJECT = "【デモ市】((手続名))の申請を受け付けました"
BODY = """((氏名)) 様

((手続名))の申請を受け付けました。
受付番号: ((受付番号))
((手数料あり??手数料のお支払いが必要です。別途お送りする案内をご確認ください。))
このメールは送信専用です。"""


def _fields(exc: pytest.ExceptionInfo[UnprocessableContent]) -> list[str]:
    return [e["field"] for e in exc.value.extensions["errors"]]


def test_placeholders_are_filled_in_subject_and_body() -> None:
    rendered = templates.render(
        SUBJECT,
        BODY,
        {
            "氏名": "山田 太郎",
            "手続名": "住民票の写しの交付",
            "受付番号": 1024,
            "手数料あり": "yes",
        },
    )
    assert rendered.subject == "【デモ市】住民票の写しの交付の申請を受け付けました"
    assert rendered.body.splitlines() == [
        "山田 太郎 様",
        "",
        "住民票の写しの交付の申請を受け付けました。",
        "受付番号: 1024",
        "手数料のお支払いが必要です。別途お送りする案内をご確認ください。",
        "このメールは送信専用です。",
    ]


@pytest.mark.parametrize("value", ["no", "No", "false", False, "いいえ", ""])
def test_conditional_text_is_left_out_when_the_value_says_no(value: object) -> None:
    rendered = templates.render("s", "前((fee??手数料が必要です))後", {"fee": value})
    assert rendered.body == "前後"


@pytest.mark.parametrize("value", ["yes", "YES", "true", True, 1, "はい"])
def test_conditional_text_is_shown_when_the_value_says_yes(value: object) -> None:
    assert templates.render("s", "((fee??必要))", {"fee": value}).body == "必要"


def test_a_conditional_key_may_be_left_out() -> None:
    rendered = templates.render(
        SUBJECT, BODY, {"氏名": "山田", "手続名": "転入届", "受付番号": "A-1"}
    )
    assert "手数料" not in rendered.body


def test_a_line_holding_only_left_out_content_is_dropped() -> None:
    rendered = templates.render("s", "一行目\n((fee??手数料))\n\n三行目 ((x??追記))", {})
    assert rendered.body == "一行目\n\n三行目"


def test_a_conditional_with_neither_yes_nor_no_names_the_field() -> None:
    with pytest.raises(UnprocessableContent) as exc:
        templates.render("s", "((fee??必要))", {"fee": "maybe"})
    assert _fields(exc) == ["personalisation.fee"]


def test_missing_personalisation_names_every_missing_field_once() -> None:
    with pytest.raises(UnprocessableContent) as exc:
        templates.render(SUBJECT, BODY + "\n((氏名))", {"手続名": "転入届"})
    assert exc.value.status == 422
    assert _fields(exc) == ["personalisation.氏名", "personalisation.受付番号"]


def test_a_null_value_counts_as_missing() -> None:
    with pytest.raises(UnprocessableContent) as exc:
        templates.render("((name))", "b", {"name": None})
    assert _fields(exc) == ["personalisation.name"]
    assert exc.value.detail == "missing personalisation: name"


def test_extra_keys_are_ignored_and_names_match_like_notify() -> None:
    rendered = templates.render(
        "((Full Name)) 様",
        "((reference-number))",
        {"full_name": "Taro", "REFERENCE NUMBER": 7, "unused": "x"},
    )
    assert (rendered.subject, rendered.body) == ("Taro 様", "7")


def test_booleans_read_in_the_templates_language() -> None:
    assert templates.render("s", "((paid))", {"paid": True}).body == "はい"
    assert templates.render("s", "((paid))", {"paid": False}, language="en").body == "no"
    assert templates.render("s", "((paid))", {"paid": True}, language="ko").body == "예"


def test_values_are_never_rendered_again() -> None:
    rendered = templates.render("s", "((a)) ((b))", {"a": "((b))", "b": "B"})
    assert rendered.body == "((b)) B"


def test_values_cannot_add_header_lines_or_control_characters() -> None:
    rendered = templates.render(
        "件名 ((name))",
        "本文 ((name))",
        {"name": "太郎\r\nBcc: victim@example.jp\x07\u202e"},
    )
    assert rendered.subject == "件名 太郎 Bcc: victim@example.jp"
    assert "\r" not in rendered.body
    assert rendered.body == "本文 太郎\nBcc: victim@example.jp"


def test_lists_become_one_line_per_item() -> None:
    rendered = templates.render(
        "((docs))", "必要書類:\n((docs))", {"docs": ["本人確認書類", "印鑑"]}
    )
    assert rendered.subject == "本人確認書類、印鑑"
    assert rendered.body == "必要書類:\n・本人確認書類\n・印鑑"


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [
        ("s", "((name)", "body"),
        ("s", "(( ))", "body"),
        ("((a??b??c))", "b", "subject"),
        ("two\nlines", "b", "subject"),
    ],
)
def test_malformed_templates_are_refused_naming_the_field(
    subject: str, body: str, field: str
) -> None:
    with pytest.raises(UnprocessableContent) as exc:
        templates.check_template(subject, body)
    assert _fields(exc) == [field]


def test_required_keys_are_listed_in_order_without_conditionals() -> None:
    assert templates.required_keys(SUBJECT, BODY) == ["手続名", "氏名", "受付番号"]


def test_template_transitions() -> None:
    active, archived = TemplateState.ACTIVE, TemplateState.ARCHIVED
    assert TEMPLATES.apply(active, TemplateTransition.EDIT) is active
    assert TEMPLATES.apply(active, TemplateTransition.ARCHIVE) is archived
    assert TEMPLATES.apply(archived, TemplateTransition.RESTORE) is active
    assert TEMPLATES.allowed(archived) == (TemplateTransition.RESTORE,)
    with pytest.raises(IllegalTransition) as exc:
        TEMPLATES.apply(archived, TemplateTransition.EDIT)
    assert exc.value.current_state == "archived"
