"""Mails as bytes, rendered at send time.

An alert mail is the alert's text in the recipient's language (else Japanese), the target
districts, sent time and expiry in JST, and a footer with the recipient's own manage and
unsubscribe links. Everything that is the same for every recipient of an (alert, language) is
built once per batch (`AlertParts`); per recipient only the To / Message-ID / link lines and the
base64 of the body are made. Stored messages (confirmations, notifications, call-ups) are sent
as they were stored, with their extra headers."""

from __future__ import annotations

import email.policy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from services.alert_mail.delivery import mime
from services.alert_mail.delivery.dkim_signing import DkimSigner
from services.alert_mail.delivery.texts import DEFAULT_TITLES, NAME_LANGUAGE, WORDING, Wording
from services.alert_mail.domain.links import manage_url, personal_token, unsubscribe_url
from services.alert_mail.models import Alert, OutgoingMessage
from services.alert_mail.settings import Settings
from services.kit.clock import JST
from services.kit.mailer import build_message

ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058
_FOOTER_RULE = "-" * 40
_IDENTITY_HEADERS = frozenset({"to", "message-id"})  # never taken from a stored message


@dataclass(frozen=True, slots=True)
class AlertParts:
    """What every recipient of one alert in one language shares."""

    alert_id: str
    language: str  # the language actually used (a missing translation falls back to ja)
    fixed_head: str  # From, Subject, Date, Auto-Submitted, MIME headers
    text: str  # the body without the personal footer
    wording: Wording
    title: str


def jst_text(moment: datetime) -> str:
    return f"{moment.astimezone(JST):%Y-%m-%d %H:%M} (+09:00)"


def content_language(content: Mapping[str, Any], language: str) -> str:
    return language if isinstance(content.get(language), dict) else "ja"


def district_line(
    codes: list[str], names: Mapping[str, tuple[str, str]], language: str, wording: Wording
) -> str:
    if not codes:
        return wording.whole_city
    use_ja = NAME_LANGUAGE.get(language) == "ja"
    found = [names.get(code, (code, code)) for code in codes]
    return wording.separator.join(ja if use_ja else en for ja, en in found)


class Renderer:
    def __init__(self, settings: Settings, signer: DkimSigner | None = None) -> None:
        self.mail_from = settings.mail_sender
        self.from_header, self.envelope_from = mime.encode_address(settings.mail_sender)
        self.domain = settings.mail_domain
        self.public_url = settings.public_url.rstrip("/")
        self.secret = settings.link_secret.get_secret_value()
        self.titles = {**DEFAULT_TITLES, **settings.mail_titles}
        self.signer = signer

    @classmethod
    def from_settings(cls, settings: Settings) -> Renderer:
        signer = None
        if settings.dkim_selector and settings.dkim_domain and settings.dkim_private_key:
            signer = DkimSigner.from_key(
                settings.dkim_selector,
                settings.dkim_domain,
                settings.dkim_private_key.get_secret_value(),
            )
        return cls(settings, signer)

    # alerts ----------------------------------------------------------------------------

    def alert_parts(
        self,
        alert: Alert,
        language: str,
        district_names: Mapping[str, tuple[str, str]],
        *,
        date: datetime,
    ) -> AlertParts:
        used = content_language(alert.content, language)
        content: Mapping[str, Any] = alert.content[used]
        wording = WORDING.get(used, WORDING["ja"])
        title = self.titles.get(used, self.titles["ja"])
        headline = str(content.get("headline", "")).strip()
        lines = [headline, "", str(content.get("body", "")).strip(), ""]
        instruction = str(content.get("instruction") or "").strip()
        if instruction:
            lines += [wording.instruction, instruction, ""]
        lines.append(
            wording.districts + district_line(alert.districts, district_names, used, wording)
        )
        lines.append(wording.sent + jst_text(alert.sent_at or date))
        lines.append(wording.expires + jst_text(alert.expires_at))
        subject = wording.subject.format(title=title, headline=mime.clean_header_value(headline))
        fixed_head = mime.header_block(
            (
                ("From", self.from_header),
                ("Subject", mime.encode_text(subject)),
                ("Date", format_datetime(date.astimezone(JST))),
                ("List-Unsubscribe-Post", ONE_CLICK),
                ("Auto-Submitted", "auto-generated"),
                ("Content-Language", "ja" if used == "ja-plain" else used),
            )
        )
        return AlertParts(
            alert_id=alert.id,
            language=used,
            fixed_head=fixed_head + mime.TEXT_PART_HEADERS,
            text="\r\n".join(lines),
            wording=wording,
            title=title,
        )

    def alert_mail(
        self, parts: AlertParts, *, subscription_id: str, email: str, link_version: int
    ) -> bytes:
        manage = manage_url(
            self.public_url, personal_token(self.secret, "manage", subscription_id, link_version)
        )
        leave = unsubscribe_url(
            self.public_url,
            personal_token(self.secret, "unsubscribe", subscription_id, link_version),
        )
        w = parts.wording
        text = (
            f"{parts.text}\r\n\r\n{_FOOTER_RULE}\r\n{parts.title}\r\n"
            f"{w.manage}{manage}\r\n{w.unsubscribe}{leave}\r\n{w.no_reply}\r\n"
        )
        head = (
            f"To: {email}\r\n"
            f"Message-ID: <{parts.alert_id}.{subscription_id}@{self.domain}>\r\n"
            f"List-Unsubscribe: <{leave}>\r\n"
        ) + parts.fixed_head
        return self._finish(mime.assemble(head, mime.base64_body(text)))

    # stored messages -------------------------------------------------------------------

    def stored_mail(self, message: OutgoingMessage, *, to: str, date: datetime) -> bytes:
        built = build_message(
            sender=self.mail_from,
            to=to,
            subject=message.subject,
            text=message.text,
            html=message.html,
            message_id=f"<{message.id}@{self.domain}>",
            date=date.astimezone(JST),
        )
        for name, value in (message.headers or {}).items():
            if name.lower() in _IDENTITY_HEADERS:
                continue
            clean = mime.clean_header_value(str(value))
            if name in built:
                built.replace_header(name, clean)
            else:
                built[name] = clean
        if "Auto-Submitted" not in built:
            built["Auto-Submitted"] = "auto-generated"
        policy = email.policy.SMTP if to.isascii() else email.policy.SMTPUTF8
        return self._finish(built.as_bytes(policy=policy))

    def _finish(self, data: bytes) -> bytes:
        return self.signer.sign(data) if self.signer is not None else data
