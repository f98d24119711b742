"""Failed-login counters per account and per client address, in memory (one gateway process).

A fixed window per key: after `limit` failures within `window` seconds the key answers 429
until the window ends. Unknown accounts are counted like known ones, by the name tried.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Window:
    started: float
    failures: int


class LoginLimiter:
    def __init__(
        self,
        *,
        per_account: int,
        per_ip: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_account = per_account
        self.per_ip = per_ip
        self.window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._windows: dict[str, _Window] = {}

    def _current(self, key: str, now: float) -> _Window | None:
        window = self._windows.get(key)
        if window is not None and now - window.started >= self.window:
            del self._windows[key]
            return None
        return window

    def retry_after(self, account: str, ip: str | None) -> int | None:
        """Seconds until a login may be tried again, or None when it may be tried now."""
        now = self._clock()
        waits = []
        for key, limit in self._keys(account, ip):
            window = self._current(key, now)
            if window is not None and window.failures >= limit:
                waits.append(math.ceil(window.started + self.window - now))
        return max(waits) if waits else None

    def failed(self, account: str, ip: str | None) -> None:
        now = self._clock()
        if len(self._windows) >= self._max_keys:
            self._prune(now)
        for key, _ in self._keys(account, ip):
            window = self._current(key, now)
            if window is None:
                self._windows[key] = _Window(now, 1)
            else:
                window.failures += 1

    def succeeded(self, account: str) -> None:
        self._windows.pop(f"account:{account}", None)

    def _keys(self, account: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [(f"account:{account}", self.per_account)]
        if ip:
            keys.append((f"ip:{ip}", self.per_ip))
        return keys

    def _prune(self, now: float) -> None:
        stale = [k for k, w in self._windows.items() if now - w.started >= self.window]
        for key in stale:
            del self._windows[key]
        if len(self._windows) >= self._max_keys:  # still full: forget the oldest half
            oldest = sorted(self._windows, key=lambda k: self._windows[k].started)
            for key in oldest[: len(oldest) // 2]:
                del self._windows[key]
