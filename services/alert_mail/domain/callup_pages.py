"""The reply pages a member opens from the call-up mail: plain HTML, no script, mobile first.

Accessibility: one `<h1>` per page, every control labelled, the three answers as a fieldset
with a legend, large touch targets, errors listed at the top (role="alert") and tied to their
fields with `aria-describedby`, so a screen reader names the problem where it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote

from services.alert_mail.domain.callup_mail import format_jst
from services.alert_mail.domain.callup_replies import (
    MAX_ARRIVAL_MINUTES,
    MAX_COMMENT_CHARS,
    STATUS_LABELS_JA,
    ReplyStatus,
)


@dataclass(frozen=True, slots=True)
class ShownReply:
    status: ReplyStatus
    arrival_minutes: int | None
    comment: str | None
    replied_at: datetime


@dataclass(frozen=True, slots=True)
class ReplyPageView:
    token: str
    recipient_name: str
    group_name: str
    title: str
    message: str
    sent_at: datetime
    closed_at: datetime | None
    latest: ShownReply | None


@dataclass(frozen=True, slots=True)
class FormValues:
    status: str = ""
    arrival_minutes: str = ""
    comment: str = ""


FIELD_LABELS_JA = {
    "status": "安否",
    "arrival_minutes": "参集までの時間",
    "comment": "連絡事項",
    "token": "リンク",
}

_STYLE = """
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;
font-size:1.125rem;line-height:1.7;color:#1a1a1a;background:#fff}
main{max-width:40rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.4;margin:.5rem 0 1rem}
.notice{border-left:.5rem solid #b00020;background:#fdecee;padding:.75rem 1rem;margin:1rem 0}
.message{white-space:pre-wrap;background:#f4f4f4;padding:.75rem 1rem;border-radius:.25rem}
fieldset{border:0;padding:0;margin:1.5rem 0}
legend{font-weight:bold;font-size:1.25rem;margin-bottom:.5rem}
.choice{display:flex;align-items:center;gap:.75rem;min-height:3.5rem;padding:.5rem 1rem;
margin:.5rem 0;border:2px solid #555;border-radius:.5rem;font-size:1.25rem;cursor:pointer}
.choice input{width:1.75rem;height:1.75rem;flex:none}
.field{margin:1.5rem 0}
.field label{display:block;font-weight:bold;font-size:1.25rem}
.hint{display:block;color:#444;font-size:1rem}
input[type=number],textarea{width:100%;font-size:1.25rem;padding:.75rem;border:2px solid #555;
border-radius:.5rem}
input[type=number]{max-width:10rem}
.suffix{font-size:1.25rem;margin-left:.5rem}
button{width:100%;min-height:3.5rem;font-size:1.375rem;font-weight:bold;color:#fff;
background:#0b5394;border:0;border-radius:.5rem;margin:1rem 0}
a{color:#0b5394}
:focus-visible{outline:3px solid #ff9900;outline-offset:2px}
.error{color:#b00020;font-weight:bold;display:block}
[aria-invalid=true]{border-color:#b00020}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:bold}
dd{margin:0}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)} | 職員参集メール</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _reply_facts(reply: ShownReply) -> str:
    rows = [f"<dt>安否</dt><dd>{escape(STATUS_LABELS_JA[reply.status])}</dd>"]
    if reply.arrival_minutes is not None:
        rows.append(f"<dt>参集</dt><dd>{reply.arrival_minutes}分後に参集できます</dd>")
    if reply.comment:
        rows.append(f"<dt>連絡事項</dt><dd>{escape(reply.comment)}</dd>")
    rows.append(f"<dt>回答日時</dt><dd>{escape(format_jst(reply.replied_at))}</dd>")
    return f"<dl>{''.join(rows)}</dl>"


def _intro(view: ReplyPageView) -> str:
    return (
        f"<p>{escape(view.recipient_name)} 様（{escape(view.group_name)}）</p>"
        f"<h2>{escape(view.title)}</h2>"
        f'<p class="message">{escape(view.message)}</p>'
        f"<p>送信日時: {escape(format_jst(view.sent_at))}</p>"
    )


def _error_summary(errors: Mapping[str, str]) -> str:
    items = "".join(
        f'<li><a href="#{escape(name)}">{escape(FIELD_LABELS_JA.get(name, name))}: '
        f"{escape(message)}</a></li>"
        for name, message in errors.items()
    )
    return (
        '<div class="notice" role="alert" aria-labelledby="error-title">'
        f'<h2 id="error-title">入力内容を確認してください</h2><ul>{items}</ul></div>'
    )


def _described(name: str, errors: Mapping[str, str], hint_id: str | None = None) -> str:
    ids = [i for i in (hint_id, f"{name}-error" if name in errors else None) if i]
    invalid = ' aria-invalid="true"' if name in errors else ""
    return (f' aria-describedby="{" ".join(ids)}"' if ids else "") + invalid


def _field_error(name: str, errors: Mapping[str, str]) -> str:
    if name not in errors:
        return ""
    return f'<span class="error" id="{name}-error">{escape(errors[name])}</span>'


def form_page(
    view: ReplyPageView,
    values: FormValues | None = None,
    errors: Mapping[str, str] | None = None,
) -> str:
    errors = errors or {}
    if values is None:
        latest = view.latest
        values = FormValues(
            status=latest.status.value if latest else "",
            arrival_minutes=(
                str(latest.arrival_minutes) if latest and latest.arrival_minutes is not None else ""
            ),
            comment=(latest.comment or "") if latest else "",
        )
    choices = []
    for index, status in enumerate(ReplyStatus):
        checked = " checked" if values.status == status.value else ""
        element_id = "status" if index == 0 else f"status-{status.value}"
        choices.append(
            f'<label class="choice" for="{element_id}">'
            f'<input type="radio" id="{element_id}" name="status" value="{status.value}"'
            f"{checked} required> {escape(STATUS_LABELS_JA[status])}</label>"
        )
    previous = ""
    if view.latest is not None:
        previous = (
            f"<h2>前回の回答</h2>{_reply_facts(view.latest)}<p>送り直すと上書きされます。</p>"
        )
    body = f"""<h1>参集確認への回答</h1>
{_error_summary(errors) if errors else ""}
{_intro(view)}
{previous}
<form method="post" action="reply" accept-charset="utf-8">
<input type="hidden" name="token" value="{escape(view.token)}">
<fieldset{_described("status", errors)}>
<legend>あなたの安否を選んでください（必須）</legend>
{_field_error("status", errors)}
{"".join(choices)}
</fieldset>
<div class="field">
<label for="arrival_minutes">○分後に参集できます</label>
<span class="hint" id="arrival_minutes-hint">
参集できる場合は、到着まで何分かかるかを数字で入力してください
（0〜{MAX_ARRIVAL_MINUTES}分。すぐ来られる場合は 0）。
参集できない場合は空欄のままにしてください。</span>
{_field_error("arrival_minutes", errors)}
<input type="number" id="arrival_minutes" name="arrival_minutes" inputmode="numeric"
min="0" max="{MAX_ARRIVAL_MINUTES}" step="1" value="{escape(values.arrival_minutes)}"
{_described("arrival_minutes", errors, "arrival_minutes-hint")}><span class="suffix">分後</span>
</div>
<div class="field">
<label for="comment">連絡事項（任意）</label>
<span class="hint" id="comment-hint">
けがの様子、家族の状況、参集できない理由など（{MAX_COMMENT_CHARS}文字以内）。</span>
{_field_error("comment", errors)}
<textarea id="comment" name="comment" rows="4" maxlength="{MAX_COMMENT_CHARS}"
{_described("comment", errors, "comment-hint")}>{escape(values.comment)}</textarea>
</div>
<button type="submit">回答を送信する</button>
</form>"""
    return _page("参集確認への回答", body)


def done_page(view: ReplyPageView, reply: ShownReply) -> str:
    body = f"""<h1>回答を受け付けました</h1>
<div class="notice" role="status">
ご回答ありがとうございます。身の安全を第一に行動してください。</div>
{_reply_facts(reply)}
{_intro(view)}
<p><a href="reply?token={escape(quote(view.token))}">回答を変更する</a></p>"""
    return _page("回答を受け付けました", body)


def closed_page(view: ReplyPageView) -> str:
    closed = format_jst(view.closed_at) if view.closed_at else ""
    latest = f"<h2>あなたの最後の回答</h2>{_reply_facts(view.latest)}" if view.latest else ""
    body = f"""<h1>この参集確認は締め切られました</h1>
<div class="notice" role="alert">回答の受付は{escape(closed)}に終了しました。
これ以上の回答は受け付けられません。必要な場合は所属の連絡先へ直接連絡してください。</div>
{_intro(view)}
{latest}"""
    return _page("締め切られました", body)


def invalid_link_page() -> str:
    body = """<h1>このリンクは使えません</h1>
<div class="notice" role="alert">リンクが正しくないか、新しいリンクが送られたため無効になりました。
参集確認メールのリンクをもう一度開くか、最新のメールを確認してください。</div>"""
    return _page("リンクが使えません", body)
