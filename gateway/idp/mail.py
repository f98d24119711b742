"""The identity provider's mail: Japanese first, English below, sent via the kit mailer."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from services.kit.mailer import address, build_message

SENDER_NAME = "市役所 電子窓口 (City Hall online)"
SIGNATURE = "\n--\n市役所 電子窓口\nCity Hall online services\n"


def _message(sender: str, to: str, subject: str, text: str) -> EmailMessage:
    return build_message(
        sender=address(parseaddr(sender)[0] or SENDER_NAME, parseaddr(sender)[1] or sender),
        to=to,
        subject=subject,
        text=text + SIGNATURE,
        headers={"Auto-Submitted": "auto-generated"},
    )


def verification(sender: str, to: str, name: str, link: str, hours: int) -> EmailMessage:
    text = (
        f"{name} 様\n\n"
        "市役所の電子窓口へのご登録ありがとうございます。\n"
        "下記のリンクを開いて、メールアドレスの確認を完了してください。\n\n"
        f"{link}\n\n"
        f"このリンクの有効期限は{hours}時間です。\n"
        "お心当たりのない場合は、このメールを破棄してください。\n\n"
        "----\n"
        f"Dear {name},\n\n"
        "Thank you for registering with the city hall's online services.\n"
        "Please open the link above to confirm your e-mail address.\n"
        f"The link is valid for {hours} hours. If you did not register, ignore this message.\n"
    )
    return _message(
        sender, to, "【市役所】メールアドレスの確認 / Confirm your e-mail address", text
    )


def already_registered(sender: str, to: str) -> EmailMessage:
    text = (
        "このメールアドレスで電子窓口への登録が再度申し込まれましたが、"
        "すでにアカウントがあります。\n"
        "パスワードをお忘れの場合は、窓口までお問い合わせください。\n"
        "お心当たりのない場合は、このメールを破棄してください。\n\n"
        "----\n"
        "Someone tried to register this e-mail address again, but it already has an account.\n"
        "If this was not you, you can ignore this message.\n"
    )
    return _message(sender, to, "【市役所】登録済みのアドレスです / Already registered", text)


def set_password(sender: str, to: str, name: str, link: str, hours: int) -> EmailMessage:
    text = (
        f"{name} 様\n\n"
        "職員アカウントが作成されました。下記のリンクからパスワードを設定してください。\n"
        "設定後、初回ログイン時に二要素認証 (TOTP) の登録を行います。\n\n"
        f"{link}\n\n"
        f"このリンクは一度だけ使用でき、有効期限は{hours}時間です。\n\n"
        "----\n"
        f"Dear {name},\n\n"
        "A staff account was created for you. Set your password with the link above;\n"
        "at the first login you will enrol a two-factor (TOTP) authenticator.\n"
        f"The link works once and is valid for {hours} hours.\n"
    )
    return _message(sender, to, "【市役所】パスワードの設定 / Set your password", text)


def email_login(sender: str, to: str, name: str, link: str, minutes: int) -> EmailMessage:
    text = (
        f"{name} 様\n\n"
        "市役所の電子窓口へのかんたんログインが申し込まれました。\n"
        "下記のリンクを開き、「ログインする」を押してください。\n\n"
        f"{link}\n\n"
        f"このリンクは一度だけ使用でき、有効期限は{minutes}分です。\n"
        "お心当たりのない場合は、このメールを破棄してください。"
        "リンクを開かない限り、ログインされることはありません。\n\n"
        "----\n"
        f"Dear {name},\n\n"
        "Someone asked to log in to the city hall's online services with this address.\n"
        "Open the link above and press the log-in button.\n"
        f"The link works once and is valid for {minutes} minutes. If this was not you,\n"
        "ignore this message: nobody can log in without opening the link.\n"
    )
    return _message(sender, to, "【市役所】かんたんログイン / Your login link", text)
