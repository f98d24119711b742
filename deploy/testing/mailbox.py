"""The suite's mailbox as a test sees it: mail sent since the test began, waited for with the
mailbox API's long poll (the sink answers the moment a matching message arrives), and
addresses made to bounce (the sink refuses them at RCPT, as a real server would)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_TIMEOUT = 10.0
LINK = re.compile(r"https?://[^\s<>\"')]+")


class MailNotReceived(AssertionError):
    """No matching mail arrived in time; the message lists what did arrive."""


@dataclass(frozen=True, slots=True)
class Mail:
    id: int
    subject: str
    from_: str
    to: tuple[str, ...]
    text: str | None
    html: str | None
    headers: tuple[tuple[str, str], ...]

    @property
    def links(self) -> list[str]:
        """The URLs in the text part, in order (verification, sign-up and login links)."""
        return LINK.findall(self.text or "")

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _mail(detail: dict[str, Any]) -> Mail:
    return Mail(
        id=detail["id"],
        subject=detail["subject"],
        from_=detail["from_"],
        to=tuple(detail["to"]),
        text=detail["text"],
        html=detail["html"],
        headers=tuple((k, v) for k, v in detail["headers"]),
    )


class Mailbox:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.after = 0  # the newest message id when the test began

    async def begin(self) -> None:
        answer = await self.http.get(f"{self.url}/api/messages", params={"limit": 1})
        answer.raise_for_status()
        newest = answer.json()["messages"]
        self.after = newest[0]["id"] if newest else 0

    async def _summaries(
        self, to: str | None, subject: str | None, wait: float, count: int
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"after": self.after, "wait": wait, "count": count}
        params.update({k: v for k, v in (("to", to), ("subject", subject)) if v})
        answer = await self.http.get(
            f"{self.url}/api/messages", params=params, timeout=wait + DEFAULT_TIMEOUT
        )
        answer.raise_for_status()
        return list(reversed(answer.json()["messages"]))  # oldest first

    async def _detail(self, message_id: int) -> Mail:
        answer = await self.http.get(f"{self.url}/api/messages/{message_id}")
        answer.raise_for_status()
        return _mail(answer.json())

    async def messages(self, *, to: str | None = None, subject: str | None = None) -> list[Mail]:
        """Every mail since the test began (addressed `to`, `subject` in the subject), oldest
        first."""
        return [await self._detail(m["id"]) for m in await self._summaries(to, subject, 0, 1)]

    async def wait_for_all(
        self,
        count: int,
        *,
        to: str | None = None,
        subject: str | None = None,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[Mail]:
        """The first `count` matching mails, oldest first, as soon as they have arrived."""
        found = await self._summaries(to, subject, within, count)
        if len(found) < count:
            arrived = [
                f"{m['rcpt_tos']} {m['subject']!r}" for m in await self._summaries(None, None, 0, 1)
            ]
            wanted = f"to {to or 'anyone'} with {subject or 'any subject'!r}"
            raise MailNotReceived(
                f"{len(found)} of {count} mails {wanted}"
                f" arrived in {within:.0f} s; since the test began: {arrived or 'none'}"
            )
        return [await self._detail(m["id"]) for m in found[:count]]

    async def wait_for(
        self, *, to: str | None = None, subject: str | None = None, within: float = DEFAULT_TIMEOUT
    ) -> Mail:
        """The first mail to `to` with `subject` in its subject since the test began, as soon
        as it arrives."""
        (mail,) = await self.wait_for_all(1, to=to, subject=subject, within=within)
        return mail

    async def bounce(
        self,
        address: str,
        *,
        permanent: bool = True,
        times: int | None = None,
        message: str | None = None,
    ) -> None:
        """The sink refuses `address` (550 5.1.1, or 451 4.2.0 when not `permanent`), every
        time or the next `times`, until the test ends."""
        code = 550 if permanent else 451
        text = message or ("5.1.1 no such user" if permanent else "4.2.0 mailbox busy, try later")
        body: dict[str, Any] = {"address": address, "code": code, "message": text}
        if times is not None:
            body["times"] = times
        answer = await self.http.post(f"{self.url}/api/failures", json=body)
        answer.raise_for_status()

    async def end(self) -> None:
        await self.http.delete(f"{self.url}/api/failures")
