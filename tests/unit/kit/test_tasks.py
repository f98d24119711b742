"""cancel_and_wait stops a background task and never swallows a cancel aimed at its caller;
wait_event (a loop's idle wait) never swallows a cancel either."""

from __future__ import annotations

import asyncio

import pytest

from services.kit.tasks import cancel_and_wait, wait_event


async def _slow_to_stop(stopped: asyncio.Event) -> None:
    try:
        await asyncio.sleep(3600)
    finally:
        await asyncio.sleep(0.05)  # cleanup takes a moment
        stopped.set()


async def test_it_cancels_the_task_and_waits_until_it_has_finished() -> None:
    stopped = asyncio.Event()
    task = asyncio.create_task(_slow_to_stop(stopped))
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()
    assert stopped.is_set()
    await cancel_and_wait(task)  # a finished task (or None) is left alone
    await cancel_and_wait(None)


async def test_a_cancel_of_the_caller_propagates_once_the_task_is_done() -> None:
    stopped = asyncio.Event()
    task = asyncio.create_task(_slow_to_stop(stopped))
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0.01)  # the stopper is waiting for the task's cleanup
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert task.done()


async def test_an_error_the_task_raises_while_stopping_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait(task)


async def test_wait_event_returns_when_set_or_after_the_timeout() -> None:
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 3600))
    for _ in range(20):  # the loop runs many times over, and the waiter is still waiting
        await asyncio.sleep(0)
    assert not waiter.done()
    event.set()
    async with asyncio.timeout(5):
        await waiter  # returns once set, long before its hour
    assert waiter.result() is None
    unset = asyncio.Event()
    async with asyncio.timeout(5):
        await wait_event(unset, 0.01)  # and quietly once its time is up, with nothing set
    assert not unset.is_set()


async def test_a_cancel_that_lands_as_the_event_is_set_still_stops_the_waiter() -> None:
    """asyncio.wait_for on Python 3.11 swallowed this cancel, and stop() waited forever."""
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 3600))
    await asyncio.sleep(0)
    event.set()
    waiter.cancel()
    async with asyncio.timeout(1):
        with pytest.raises(asyncio.CancelledError):
            await waiter
