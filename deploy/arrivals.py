"""Wake coroutines waiting for something to arrive, whatever thread or event loop they run on.

The mail sink's SMTP server may run on its own thread while its mailbox API (or a test) waits
on another loop; the pytest plugin's webhook receiver runs on the plugin's loop while a test
waits on its own. `notify()` is safe from any thread; a waiter re-checks its condition after
each wake-up, registering before it checks so no arrival between the two is missed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Arrivals:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def notify(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_wake, future)

    async def wait_until(self, check: Callable[[], T | None], within: float) -> T | None:
        """`check()` as soon as it is not None, re-checked on every arrival; None when
        `within` seconds pass first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            future: asyncio.Future[None] = loop.create_future()
            entry = (loop, future)
            with self._lock:
                self._waiters.add(entry)
            try:
                found = check()
                if found is not None:
                    return found
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                await asyncio.wait([future], timeout=remaining)
            finally:
                with self._lock:
                    self._waiters.discard(entry)
