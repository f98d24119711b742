"""Waiting for work that takes as long as the machine needs (thousands of mails through a
real SMTP server, child processes that import the whole stack first): the guard is a stall,
a `stall` seconds stretch in which the count of finished work does not move, never the total
time, which a loaded machine stretches without anything being wrong."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

STALL_SECONDS = 120.0  # a child still importing on a box with load 12 makes no progress yet
POLL_SECONDS = 0.2

T = TypeVar("T")


async def _read(reading: Callable[[], T | Awaitable[T]]) -> T:
    value = reading()
    if inspect.isawaitable(value):
        return await value
    return value


async def until_done(
    done: Callable[[], bool | Awaitable[bool]],
    progress: Callable[[], int | Awaitable[int]],
    *,
    what: str,
    process: asyncio.subprocess.Process | None = None,
    stall: float = STALL_SECONDS,
) -> None:
    """Returns once `done()`; fails when `process` (the one doing the work) has exited or
    `progress()` has not changed for `stall` seconds."""
    loop = asyncio.get_running_loop()
    last: int | None = None
    moved_at = loop.time()
    while not await _read(done):
        if process is not None and process.returncode is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        count = await _read(progress)
        if count != last:
            last, moved_at = count, loop.time()
        elif loop.time() - moved_at > stall:
            raise AssertionError(f"{what}: stuck at {count} for {stall:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
