"""The reply form as a browser posts it (application/x-www-form-urlencoded), turned into the
same body the JSON API takes, and validation problems worded for the person at the form."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from services.alert_mail.domain.callup_replies import MAX_ARRIVAL_MINUTES, MAX_COMMENT_CHARS

MAX_FIELDS = 10


class FormUnreadable(ValueError):
    pass


def parse_form(raw: bytes) -> dict[str, str]:
    """First value of each field; FormUnreadable for bytes that are not a UTF-8 form."""
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError included
        raise FormUnreadable(str(exc)) from exc
    values: dict[str, str] = {}
    for name, value in pairs:
        values.setdefault(name, value)
    return values


def form_body(values: Mapping[str, str]) -> dict[str, Any]:
    """Empty inputs mean "not given"; full-width digits (３０) count as digits."""
    body: dict[str, Any] = dict(values)
    minutes = unicodedata.normalize("NFKC", values.get("arrival_minutes", "")).strip()
    body["arrival_minutes"] = minutes or None
    comment = values.get("comment", "")
    body["comment"] = comment if comment.strip() else None
    return body


_MESSAGES = {
    "status": "「無事です」「けがをしています」「参集できません」のどれかを選んでください。",
    "arrival_minutes": f"0から{MAX_ARRIVAL_MINUTES}までの整数（分）で入力してください。",
    "comment": f"{MAX_COMMENT_CHARS}文字以内で入力してください（使えない文字が含まれています）。",
}
CANNOT_COME_WITH_MINUTES = "「参集できません」を選んだ場合は、参集までの時間を空欄にしてください。"


def japanese_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Field name -> message, from problem `errors` items (`field`, `message`)."""
    shown: dict[str, str] = {}
    for error in errors:
        name = str(error.get("field", "")).split(".")[0] or "form"
        shown.setdefault(name, _MESSAGES.get(name, "この項目は受け付けられません。"))
    return shown
