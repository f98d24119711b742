"""Limits on the anonymous status lookup (reference + access code), so codes cannot be
guessed: a fixed window of attempts per client, and of failures per reference (the latter is
kept on the application row, so every replica sees it)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_REFERENCE = 5
MAX_ATTEMPTS_PER_CLIENT = 30
MAX_CLIENTS = 10_000


@dataclass(slots=True)
class _Window:
    started: datetime
    count: int


class ClientAttempts:
    """Attempts per client key in the current window (in memory, per process)."""

    def __init__(self, limit: int = MAX_ATTEMPTS_PER_CLIENT, window: timedelta = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._seen: OrderedDict[str, _Window] = OrderedDict()

    def allow(self, client: str, now: datetime) -> int | None:
        """None when allowed (and counted); else the seconds until the window ends."""
        entry = self._seen.get(client)
        if entry is None or now - entry.started >= self.window:
            entry = _Window(now, 0)
        if entry.count >= self.limit:
            return max(1, int((entry.started + self.window - now).total_seconds()))
        entry.count += 1
        self._seen[client] = entry
        self._seen.move_to_end(client)
        while len(self._seen) > MAX_CLIENTS:
            self._seen.popitem(last=False)
        return None


def reference_locked(failures: int, window_start: datetime | None, now: datetime) -> int | None:
    """Seconds until a reference may be tried again, or None."""
    if window_start is None or now - window_start >= WINDOW:
        return None
    if failures < MAX_FAILURES_PER_REFERENCE:
        return None
    return max(1, int((window_start + WINDOW - now).total_seconds()))
