"""The call-up mail each member receives: plain Japanese text with a personal reply link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from services.kit.clock import JST

REPLY_PURPOSE = "callup-reply"
_WEEKDAYS = "月火水木金土日"


def reply_url(public_url: str, token: str) -> str:
    return f"{public_url}/v1/callups/reply?token={quote(token)}"


def format_jst(moment: datetime) -> str:
    """2026年11月21日（土）19時05分"""
    local = moment.astimezone(JST)
    return (
        f"{local.year}年{local.month}月{local.day}日（{_WEEKDAYS[local.weekday()]}）"
        f"{local.hour}時{local.minute:02d}分"
    )


@dataclass(frozen=True, slots=True)
class CallupMail:
    subject: str
    text: str


def render(
    *,
    recipient_name: str,
    group_name: str,
    title: str,
    message: str,
    url: str,
    sent_at: datetime,
) -> CallupMail:
    text = (
        f"{recipient_name} 様\n"
        "\n"
        f"{group_name}の職員の皆さんへ、参集の確認です。\n"
        "\n"
        f"■ {title}\n"
        f"{message}\n"
        "\n"
        "下のリンクを開き、ご自身の安否と参集できるかどうかを回答してください。\n"
        "参集できる場合は、何分後に到着できるかも入力してください。\n"
        "回答は何度でも送り直せます（最後の回答が有効です）。\n"
        "\n"
        f"{url}\n"
        "\n"
        f"送信日時: {format_jst(sent_at)}\n"
        "このメールは職員参集メールです。このメールに返信しても届きません。\n"
        "リンクはあなた専用です。ほかの人に転送しないでください。\n"
    )
    return CallupMail(subject=f"【職員参集】{title}", text=text)
