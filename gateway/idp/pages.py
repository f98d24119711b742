"""The pages a mailed e-mail confirmation link opens. Opening the link only shows a button
(mail scanners fetch links, and must not confirm an address nobody read); the button posts
the token back. Escaped text, no scripts."""

from __future__ import annotations

import html

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
}

_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


def verify_email_page(token: str) -> str:
    body = (
        "<p>ボタンを押すと、メールアドレスの確認が完了します。<br>\n"
        "Press the button to confirm your e-mail address.</p>\n"
        '<form method="post" action="/auth/verify-email">\n'
        f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">\n'
        '<button type="submit">メールアドレスを確認する / Confirm</button>\n'
        "</form>"
    )
    return _PAGE.format(title="メールアドレスの確認 / Confirm your e-mail address", body=body)


def verified_page(display_name: str) -> str:
    name = html.escape(display_name)
    body = (
        f"<p>{name} 様、メールアドレスの確認が完了しました。ログインしてご利用ください。<br>\n"
        f"Thank you, {name}: your e-mail address is confirmed. You can log in now.</p>"
    )
    return _PAGE.format(title="確認しました / Confirmed", body=body)


def link_refused_page(detail: str) -> str:
    body = (
        "<p>このリンクは使えません。期限が切れたか、正しくないリンクです。"
        "もう一度登録をお試しください。<br>\n"
        f"This link cannot be used: {html.escape(detail)}</p>"
    )
    return _PAGE.format(title="リンクが無効です / Invalid link", body=body)
