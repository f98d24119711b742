"""Background task helpers shared by the scheduler, the outbox relay and the gateway."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancels `task` and waits until it has finished. Only the task's own cancellation is
    absorbed: a cancel of the caller while it waits still propagates (once the task is done),
    and whatever else the task raised is raised here."""
    if task is None or task.done():
        return
    task.cancel()
    # gather, not `await task` under suppress(CancelledError): that also swallowed a cancel
    # aimed at the caller itself.
    await asyncio.gather(task, return_exceptions=True)
    if not task.cancelled():
        task.result()


async def wait_event(event: asyncio.Event, seconds: float) -> None:
    """Waits until `event` is set or `seconds` have passed, for a loop's idle wait.

    Not asyncio.wait_for: on Python 3.11 it swallows a cancel that arrives as the event is set
    (a commit just before shutdown), and the loop's stop() then waits forever."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
