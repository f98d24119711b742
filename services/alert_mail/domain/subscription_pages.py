"""The small HTML pages of sign-up, confirmation, manage and unsubscribe links: mobile first,
readable without scripts, every control labelled and large enough to tap. Every value from a
subscriber or a link is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from services.alert_mail.domain.subscription_texts import (
    LANGUAGE_NAMES,
    Choice,
    language_label,
    names,
    page_text,
)

BASE = "/v1/subscriptions"
SIGNUP_PATH = f"{BASE}/signup"

_STYLE = """
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,"Hiragino Sans","Noto Sans JP",Meiryo,sans-serif;
font-size:1.125rem;line-height:1.7;color:#1a1a1a;background:#fff}
main{max-width:40rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.4}
fieldset{border:1px solid #767676;border-radius:.5rem;margin:0 0 1.25rem;padding:.5rem 1rem}
legend{font-weight:bold;padding:0 .25rem}
.check{display:flex;align-items:center;min-height:48px;gap:.75rem}
.check input{width:1.5rem;height:1.5rem;flex:none}
label.field{display:block;font-weight:bold;margin:.5rem 0 .25rem}
input[type=email],select{width:100%;min-height:48px;font-size:1.125rem;padding:.5rem;
border:2px solid #767676;border-radius:.375rem}
button{display:block;width:100%;min-height:52px;margin:1rem 0;font-size:1.125rem;
font-weight:bold;border:0;border-radius:.5rem;background:#0b57d0;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#a50e0e;border:2px solid #a50e0e}
:focus-visible{outline:3px solid #e37400;outline-offset:2px}
.notice{padding:.75rem 1rem;border-left:.375rem solid #0b57d0;background:#eef3fd}
.error{padding:.75rem 1rem;border-left:.375rem solid #a50e0e;background:#fdeeee}
dl{margin:0 0 1rem}dt{font-weight:bold}dd{margin:0 0 .5rem}
a{color:#0b57d0;display:inline-block;min-height:48px;padding:.5rem 0}
"""


def _page(language: str, title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _summary(
    text: Mapping[str, str],
    language: str,
    *,
    email: str,
    categories: Sequence[Choice],
    districts: Sequence[Choice],
    mail_language: str,
    plain_japanese: bool,
) -> str:
    rows = (
        (text["email"], email),
        (text["categories"], names(categories, language, empty="-")),
        (text["districts"], names(districts, language, empty=text["city_wide"])),
        (text["language"], language_label(mail_language, plain_japanese)),
    )
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def confirm_page(
    *,
    language: str,
    token: str,
    email: str,
    categories: Sequence[Choice],
    districts: Sequence[Choice],
    plain_japanese: bool,
) -> str:
    """Opening the link changes nothing (mail scanners prefetch links); the button does."""
    text = page_text(language)
    summary = _summary(
        text,
        language,
        email=email,
        categories=categories,
        districts=districts,
        mail_language=language,
        plain_japanese=plain_japanese,
    )
    body = (
        f"<p>{escape(text['confirm_lead'])}</p>\n{summary}\n"
        f'<form method="post" action="{BASE}/confirm">\n'
        f'<input type="hidden" name="token" value="{escape(token)}">\n'
        f'<button type="submit">{escape(text["confirm_button"])}</button>\n</form>'
    )
    return _page(language, text["confirm_title"], body)


def confirmed_page(*, language: str, manage_url: str) -> str:
    text = page_text(language)
    body = (
        f'<p class="notice">{escape(text["confirmed_lead"])}</p>\n'
        f'<p><a href="{escape(manage_url)}">{escape(text["manage_link"])}</a></p>'
    )
    return _page(language, text["confirmed_title"], body)


def link_problem_page(*, language: str, expired: bool) -> str:
    text = page_text(language)
    title = text["expired_title" if expired else "invalid_title"]
    lead = text["expired_lead" if expired else "invalid_lead"]
    body = (
        f'<p class="error">{escape(lead)}</p>\n'
        f'<p><a href="{SIGNUP_PATH}">{escape(text["signup_link"])}</a></p>'
    )
    return _page(language, title, body)


def unsubscribe_page(*, language: str, email: str, token: str) -> str:
    """The confirm step for people; the same URL takes the RFC 8058 one-click POST."""
    text = page_text(language)
    body = (
        f"<p>{escape(text['unsubscribe_lead'])}</p>\n"
        f"<dl><dt>{escape(text['email'])}</dt><dd>{escape(email)}</dd></dl>\n"
        f'<form method="post" action="{BASE}/unsubscribe?token={quote(token)}">\n'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
        f'<button type="submit" class="secondary">{escape(text["unsubscribe_button"])}</button>'
        "\n</form>"
    )
    return _page(language, text["unsubscribe_title"], body)


def unsubscribed_page(*, language: str) -> str:
    text = page_text(language)
    body = (
        f'<p class="notice">{escape(text["unsubscribed_lead"])}</p>\n'
        f'<p><a href="{SIGNUP_PATH}">{escape(text["signup_link"])}</a></p>'
    )
    return _page(language, text["unsubscribed_title"], body)


@dataclass(frozen=True, slots=True)
class FormState:
    """What a sign-up or manage form shows: the options and what is chosen."""

    categories: Sequence[Choice]
    districts: Sequence[Choice]
    chosen_categories: frozenset[str] = frozenset()
    chosen_districts: frozenset[str] = frozenset()
    language: str = "ja"
    plain_japanese: bool = False
    email: str = ""
    errors: Sequence[str] = field(default_factory=tuple)


def _checkboxes(name: str, options: Sequence[Choice], chosen: frozenset[str], language: str) -> str:
    boxes = []
    for option in options:
        ident = f"{name}-{option.code}"
        checked = " checked" if option.code in chosen else ""
        boxes.append(
            f'<div class="check"><input type="checkbox" id="{escape(ident)}" name="{name}" '
            f'value="{escape(option.code)}"{checked}>'
            f'<label for="{escape(ident)}">{escape(option.name(language))}</label></div>'
        )
    return "\n".join(boxes)


def _choices_fields(state: FormState, language: str) -> str:
    text = page_text(language)
    options = "".join(
        f'<option value="{code}"{" selected" if code == state.language else ""}>'
        f"{escape(label)}</option>"
        for code, label in LANGUAGE_NAMES.items()
    )
    plain = " checked" if state.plain_japanese else ""
    return (
        f"<fieldset><legend>{escape(text['categories'])}</legend>\n"
        f"{_checkboxes('categories', state.categories, state.chosen_categories, language)}"
        "\n</fieldset>\n"
        f"<fieldset><legend>{escape(text['districts'])}</legend>\n"
        f"<p id='districts-hint'>{escape(text['city_wide_hint'])}</p>\n"
        f"{_checkboxes('districts', state.districts, state.chosen_districts, language)}"
        "\n</fieldset>\n"
        f'<label class="field" for="language">{escape(text["language"])}</label>\n'
        f'<select id="language" name="language">{options}</select>\n'
        f'<div class="check"><input type="checkbox" id="plain_japanese" name="plain_japanese" '
        f'value="true"{plain}><label for="plain_japanese">{escape(text["plain_japanese"])}'
        "</label></div>"
    )


def _errors(state: FormState, language: str) -> str:
    if not state.errors:
        return ""
    items = "".join(f"<li>{escape(e)}</li>" for e in state.errors)
    title = escape(page_text(language)["error_title"])
    return f'<div class="error" role="alert"><p>{title}</p><ul>{items}</ul></div>\n'


def manage_page(
    *, token: str, unsubscribe_token: str, status: str, state: FormState, saved: bool = False
) -> str:
    language = state.language
    text = page_text(language)
    notice = (
        f'<p class="notice" role="status">{escape(text["manage_saved"])}</p>\n' if saved else ""
    )
    status_line = f"<p>{escape(text.get(f'status_{status}', status))}</p>\n"
    action = f"{BASE}/manage?token={quote(token)}"
    resubscribe = ""
    if status != "active":
        resubscribe = (
            f'<form method="post" action="{action}">\n'
            '<input type="hidden" name="action" value="resubscribe">\n'
            f'<button type="submit">{escape(text["resubscribe_button"])}</button>\n</form>\n'
        )
    unsubscribe = ""
    if status != "unsubscribed":
        unsubscribe = (
            f'<form method="post" action="{BASE}/unsubscribe?token={quote(unsubscribe_token)}">\n'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
            f'<button type="submit" class="secondary">{escape(text["unsubscribe_button"])}'
            "</button>\n</form>\n"
        )
    body = (
        f"{notice}{_errors(state, language)}"
        f"<dl><dt>{escape(text['email'])}</dt><dd>{escape(state.email)}</dd></dl>\n"
        f"{status_line}{resubscribe}"
        f'<form method="post" action="{action}">\n'
        '<input type="hidden" name="action" value="save">\n'
        f"{_choices_fields(state, language)}\n"
        f'<button type="submit">{escape(text["manage_save"])}</button>\n</form>\n'
        f"{unsubscribe}"
    )
    return _page(language, text["manage_title"], body)


def signup_page(state: FormState) -> str:
    """Japanese, as the city's own page is; the mail itself comes in the chosen language."""
    text = page_text("ja")
    body = (
        "<p>災害・気象・防犯などの情報をメールでお届けします。登録は無料です。"
        "お申し込みの後に届く確認メールのリンクを開くと、登録が完了します。</p>\n"
        f"{_errors(state, 'ja')}"
        f'<form method="post" action="{BASE}">\n'
        f'<label class="field" for="email">{escape(text["email"])}</label>\n'
        f'<input type="email" id="email" name="email" required autocomplete="email" '
        f'inputmode="email" maxlength="254" value="{escape(state.email)}">\n'
        f"{_choices_fields(state, 'ja')}\n"
        '<button type="submit">確認メールを送る</button>\n</form>\n'
        "<p>受信を許可するよう、迷惑メールの設定をご確認ください。"
        "個人情報は防災・防犯メールの配信にのみ使用します。</p>"
    )
    return _page("ja", "防災・防犯メールの登録", body)


def signup_sent_page() -> str:
    body = (
        '<p class="notice" role="status">ご入力のアドレスあてに確認メールを送信しました。'
        "メールにあるリンクを開いて、登録を完了してください。</p>\n"
        "<p>メールが届かないときは、アドレスの入力に誤りがないか、迷惑メールのフォルダに"
        "入っていないかをご確認のうえ、しばらくしてからもう一度お申し込みください。</p>\n"
        f'<p><a href="{SIGNUP_PATH}">登録のお申し込みへ戻る</a></p>'
    )
    return _page("ja", "確認メールを送信しました", body)
