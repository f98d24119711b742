"""Outgoing mail over persistent SMTP connections (aiosmtplib), with outcomes classified the
way delivery statuses need them: delivered, temporary failure (4xx, connection trouble) or
permanent failure (5xx)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Literal

import aiosmtplib

log = logging.getLogger("cityhall.mailer")

Outcome = Literal["delivered", "temporary-failure", "permanent-failure"]


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    code: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    date: datetime | None = None,
    domain: str = "city.example.jp",
) -> EmailMessage:
    """A UTF-8 message; Japanese subjects and names are RFC 2047-encoded by the policy."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain=domain)
    if date is not None:
        message["Date"] = format_datetime(date)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text, charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def address(name: str, email: str) -> str:
    return formataddr((name, email), charset="utf-8")


def _classify(exc: Exception) -> SendResult:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [e.code for e in exc.recipients]
        code = max(codes) if codes else None
        detail = "; ".join(e.message for e in exc.recipients)
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        code, detail = exc.code, exc.message
    else:
        return SendResult("temporary-failure", None, f"{type(exc).__name__}: {exc}")
    outcome: Outcome = (
        "permanent-failure" if code is not None and code >= 500 else "temporary-failure"
    )
    return SendResult(outcome, code, detail)


class Mailer:
    """A small pool of persistent SMTP connections, reconnected when the server drops them."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        pool_size: int = 4,
        timeout: float = 15.0,
        use_tls: bool = False,
        start_tls: bool | None = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.use_tls = use_tls
        self.start_tls = start_tls
        self.username = username
        self.password = password
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._slots = asyncio.Semaphore(pool_size)

    def _new_client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            username=self.username,
            password=self.password,
        )

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiosmtplib.SMTP]:
        async with self._slots:
            client = self._idle.get_nowait() if not self._idle.empty() else self._new_client()
            healthy = True
            try:
                if not client.is_connected:
                    await client.connect()
                yield client
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError):
                healthy = False
                raise
            finally:
                if healthy and client.is_connected:
                    self._idle.put_nowait(client)
                else:
                    with contextlib.suppress(Exception):
                        client.close()

    async def send(
        self, message: EmailMessage, *, recipients: list[str] | None = None
    ) -> SendResult:
        """Sends one message; never raises for SMTP or network trouble, it classifies it."""
        return await self._attempt(lambda c: c.send_message(message, recipients=recipients))

    async def send_raw(
        self, sender: str, recipients: Sequence[str], data: bytes, *, smtputf8: bool = False
    ) -> SendResult:
        """Sends ready-made RFC 5322 bytes as they are (7-bit bodies, CRLF line ends): bulk
        senders build these far more cheaply than an `EmailMessage` serialises. Classified
        like `send`."""
        options = ["SMTPUTF8"] if smtputf8 else None
        return await self._attempt(
            lambda c: c.sendmail(sender, list(recipients), data, mail_options=options)
        )

    async def _attempt(
        self, operation: Callable[[aiosmtplib.SMTP], Awaitable[object]]
    ) -> SendResult:
        for attempt in (1, 2):  # a pooled connection may have been dropped by the server
            try:
                async with self._connection() as client:
                    await operation(client)
                return SendResult("delivered", 250)
            except aiosmtplib.SMTPServerDisconnected as exc:
                if attempt == 2:
                    return _classify(exc)
            except (aiosmtplib.SMTPException, OSError) as exc:
                return _classify(exc)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            with contextlib.suppress(Exception):
                await client.quit()
