"""Token revocation that every verifier applies: the gateway's replicas and each service.

The gateway keeps the revocation list in its database (`idp_revocations`, one row per
revocation, numbered by `seq`). Three kinds of entry:

- `token`: one access token, by `jti` (logout, RFC 7009 revocation);
- `session`: every access token of one login session, by `sid` (a refresh-token family:
  refresh-token reuse, logout with the refresh token, a revoked My Number card);
- `account`: every token of an account issued at or before a moment, by `sub` and `iat`
  (disabling; a later login gets a later `iat`, so enabling again needs no entry).

An entry lives until no token it could refuse is still valid (`expires_at`). Each verifier
holds the live entries in a `RevocationSet` and refreshes it with a `RevocationFeed`, which
polls its source every `interval` seconds (the gateway: its database; a service: the
gateway's `GET /internal/revocations`) and can be woken early (Redis pub/sub, or the replica
that wrote the entry). Each poll also re-reads the entries of the last `OVERLAP_SECONDS`, so
an entry whose transaction committed after a higher `seq` was read is not missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from services.kit.auth import Principal
from services.kit.service_token import ServiceTokenProvider
from services.kit.tasks import cancel_and_wait, wait_event

log = logging.getLogger("cityhall.kit.revocation")

REVOCATIONS_PATH = "/internal/revocations"
OVERLAP_SECONDS = 10.0


class RevocationKind(StrEnum):
    TOKEN = "token"  # noqa: S105 - a kind name
    SESSION = "session"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class Revocation:
    seq: int
    kind: RevocationKind
    value: str
    expires_at: float
    """Unix time after which no token this entry refuses can still be valid."""
    issued_before: float | None = None
    """`account` entries: tokens with `iat` at or before this are refused."""

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind.value,
            "value": self.value,
            "expires_at": self.expires_at,
            "issued_before": self.issued_before,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Revocation:
        issued_before = data.get("issued_before")
        return cls(
            seq=int(data["seq"]),
            kind=RevocationKind(data["kind"]),
            value=str(data["value"]),
            expires_at=float(data["expires_at"]),
            issued_before=float(issued_before) if issued_before is not None else None,
        )


class RevocationSet:
    """The live entries, looked up on every verified request (dictionary lookups only)."""

    def __init__(self) -> None:
        self._tokens: dict[str, float] = {}
        self._sessions: dict[str, float] = {}
        self._accounts: dict[str, tuple[float, float]] = {}  # sub -> (issued_before, expires)
        self.last_seq = 0

    def apply(self, entries: Iterable[Revocation]) -> None:
        for entry in entries:
            if entry.kind is RevocationKind.TOKEN:
                self._tokens[entry.value] = entry.expires_at
            elif entry.kind is RevocationKind.SESSION:
                self._sessions[entry.value] = entry.expires_at
            elif entry.issued_before is not None:
                before, expires = self._accounts.get(entry.value, (0.0, 0.0))
                self._accounts[entry.value] = (
                    max(before, entry.issued_before),
                    max(expires, entry.expires_at),
                )
            self.last_seq = max(self.last_seq, entry.seq)

    def purge(self, now: float) -> None:
        for table in (self._tokens, self._sessions):
            for key in [k for k, expires in table.items() if expires < now]:
                del table[key]
        for key in [k for k, (_, expires) in self._accounts.items() if expires < now]:
            del self._accounts[key]

    def __len__(self) -> int:
        return len(self._tokens) + len(self._sessions) + len(self._accounts)

    def refuses(self, principal: Principal) -> bool:
        if principal.token_id is not None and principal.token_id in self._tokens:
            return True
        claims = principal.claims
        sid = claims.get("sid")
        if isinstance(sid, str) and sid in self._sessions:
            return True
        account = self._accounts.get(principal.sub)
        if account is not None:
            iat = claims.get("iat")
            return not isinstance(iat, int | float) or iat <= account[0]
        return False


Source = Callable[[int], Awaitable[list[Revocation]]]
"""Reads the entries after a `seq` (and those of the last OVERLAP_SECONDS)."""


def gateway_source(
    http: httpx.AsyncClient, gateway_url: str, tokens: ServiceTokenProvider
) -> Source:
    """A service's source: the gateway's `GET /internal/revocations`, with its service token."""
    url = f"{gateway_url.rstrip('/')}{REVOCATIONS_PATH}"

    async def read(seq: int) -> list[Revocation]:
        response = await http.get(url, params={"after": seq}, auth=tokens.auth())
        response.raise_for_status()
        return [Revocation.from_json(entry) for entry in response.json()["entries"]]

    return read


class RevocationFeed:
    """Keeps a `RevocationSet` current by polling `source`; `is_revoked` is the
    `TokenVerifier.is_revoked` hook. A source that fails keeps the last known list (and
    says so once until it works again)."""

    def __init__(self, source: Source, *, interval: float, name: str) -> None:
        self.source = source
        self.interval = interval
        self.name = name
        self.revocations = RevocationSet()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._poll_lock = asyncio.Lock()
        self._failing = False
        self._last_purge = time.time()

    async def is_revoked(self, principal: Principal) -> bool:
        return self.revocations.refuses(principal)

    async def poll(self) -> int:
        """Reads and applies what is new now; returns how many entries were read."""
        async with self._poll_lock:
            entries = await self.source(self.revocations.last_seq)
            self.revocations.apply(entries)
            now = time.time()
            if now - self._last_purge > 60:
                self.revocations.purge(now)
                self._last_purge = now
            return len(entries)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"cityhall-revocations-{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.poll()
                if self._failing:
                    log.info("%s: the revocation list is reachable again", self.name)
                self._failing = False
            except Exception as exc:
                if not self._failing:
                    log.warning(
                        "%s: the revocation list cannot be read (%s); keeping the last one",
                        self.name,
                        exc,
                    )
                self._failing = True
            await wait_event(self._wake, self.interval)
            self._wake.clear()
