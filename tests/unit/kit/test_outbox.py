"""The transactional outbox: enqueue in the caller's transaction, claim with a lease, retry with
backoff on a simulated clock, dead-letter, and never let a stale claim overwrite a newer one."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.outbox import (
    DEFAULT_BACKOFF,
    DELIVERED_RETENTION,
    WEBHOOK_BACKOFF,
    OutboxRelay,
    RetryLater,
    TopicPolicy,
    Undeliverable,
    enqueue,
    per_message,
    purge_delivered,
)
from services.kit.tables import OutboxMessage


class Recorder:
    """A handler that records what it was given and fails as told."""

    def __init__(self, failures: Sequence[Exception | None] = ()) -> None:
        self.failures = list(failures)
        self.delivered: list[str] = []
        self.attempts: Counter[str] = Counter()
        self.some_delivered = asyncio.Event()

    async def __call__(self, message: OutboxMessage) -> None:
        self.attempts[message.id] += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.delivered.append(message.id)
        self.some_delivered.set()


async def add(
    db: Database, clock: Clock, count: int = 1, topic: str = "t", **kw: object
) -> list[str]:
    async with db.session() as session:
        return [
            await enqueue(session, topic, {"n": n}, now=clock.now(), **kw)  # type: ignore[arg-type]
            for n in range(count)
        ]


async def row(db: Database, message_id: str) -> OutboxMessage:
    async with db.session(write=False) as session:
        message = await session.get(OutboxMessage, message_id)
        assert message is not None
        return message


async def test_enqueue_then_deliver(db: Database, clock: Clock) -> None:
    recorder = Recorder()
    [message_id] = await add(db, clock, destination="https://example.test/hook")
    relay = OutboxRelay(db, clock, {"t": per_message(recorder)})
    assert await relay.run_once() == 1
    assert recorder.delivered == [message_id]
    stored = await row(db, message_id)
    assert stored.status == "delivered"
    assert stored.attempts == 1
    assert stored.delivered_at is not None
    assert stored.claimed_until is None
    assert stored.payload == {"n": 0}
    assert await relay.run_once() == 0  # delivered once, never again


async def test_a_message_exists_only_if_its_transaction_commits(db: Database, clock: Clock) -> None:
    async def enqueue_then_fail() -> None:
        async with db.session() as session:
            await enqueue(session, "t", {"n": 1}, now=clock.now(), message_id="msg_rolled_back")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await enqueue_then_fail()
    recorder = Recorder()
    assert await OutboxRelay(db, clock, {"t": per_message(recorder)}).run_once() == 0
    assert recorder.delivered == []


async def test_deliver_at_holds_a_message_back_until_the_clock_reaches_it(
    db: Database, clock: Clock
) -> None:
    recorder = Recorder()
    [message_id] = await add(db, clock, deliver_at=clock.now() + timedelta(minutes=10))
    relay = OutboxRelay(db, clock, {"t": per_message(recorder)})
    assert await relay.run_once() == 0
    clock.advance(timedelta(minutes=10))
    assert await relay.run_once() == 1
    assert recorder.delivered == [message_id]


async def test_only_topics_with_a_handler_are_claimed(db: Database, clock: Clock) -> None:
    [mine] = await add(db, clock, topic="mine")
    [other] = await add(db, clock, topic="other")
    recorder = Recorder()
    assert await OutboxRelay(db, clock, {"mine": per_message(recorder)}).run_once() == 1
    assert recorder.delivered == [mine]
    assert (await row(db, other)).attempts == 0


async def test_retries_follow_the_backoff_on_the_simulated_clock(
    db: Database, stopped_clock: Clock
) -> None:
    clock = stopped_clock
    recorder = Recorder([RetryLater("down"), RetryLater("down"), RetryLater("down")])
    [message_id] = await add(db, clock)
    relay = OutboxRelay(db, clock, {"t": per_message(recorder)})
    for attempt, backoff in enumerate(DEFAULT_BACKOFF[:3], start=1):
        before = clock.now()
        assert await relay.run_once() == 0
        stored = await row(db, message_id)
        assert stored.status == "pending"
        assert stored.attempts == attempt
        assert stored.last_error == "down"
        assert before + backoff <= stored.next_attempt_at <= clock.now() + backoff
        # not due yet: nothing happens until the clock moves
        clock.advance(backoff - timedelta(milliseconds=100))
        assert await relay.run_once() == 0
        assert recorder.attempts[message_id] == attempt
        clock.advance(timedelta(milliseconds=100))
    assert await relay.run_once() == 1
    assert recorder.attempts[message_id] == 4
    stored = await row(db, message_id)
    assert stored.status == "delivered"
    assert stored.last_error is None


async def test_dead_letter_after_max_attempts(db: Database, clock: Clock) -> None:
    recorder = Recorder([ConnectionError("refused")] * 10)
    [message_id] = await add(db, clock)
    relay = OutboxRelay(db, clock, {"t": per_message(recorder)}, max_attempts=3)
    for _ in range(5):
        await relay.run_once()
        clock.advance(timedelta(hours=2))
    stored = await row(db, message_id)
    assert stored.status == "dead"
    assert stored.attempts == 3
    assert recorder.attempts[message_id] == 3
    assert stored.last_error is not None
    assert "ConnectionError" in stored.last_error


async def test_per_message_and_per_topic_attempt_limits(db: Database, clock: Clock) -> None:
    recorder = Recorder([RetryLater("no")] * 20)
    [own_limit] = await add(db, clock, topic="a", max_attempts=2)
    [topic_limit] = await add(db, clock, topic="b")
    relay = OutboxRelay(
        db,
        clock,
        {"a": per_message(recorder), "b": per_message(recorder)},
        policies={"b": TopicPolicy(max_attempts=4)},
        max_attempts=8,
    )
    for _ in range(6):
        await relay.run_once()
        clock.advance(timedelta(hours=2))
    assert (await row(db, own_limit)).attempts == 2
    assert (await row(db, topic_limit)).attempts == 4
    assert (await row(db, own_limit)).status == (await row(db, topic_limit)).status == "dead"


async def test_webhook_backoff_policy(db: Database, clock: Clock) -> None:
    recorder = Recorder([RetryLater("503")] * 10)
    [message_id] = await add(db, clock, topic="webhook")
    relay = OutboxRelay(
        db,
        clock,
        {"webhook": per_message(recorder)},
        policies={"webhook": TopicPolicy(backoff=WEBHOOK_BACKOFF, max_attempts=6)},
    )
    gaps = []
    for _ in range(len(WEBHOOK_BACKOFF) + 1):
        before = clock.now()
        await relay.run_once()
        stored = await row(db, message_id)
        if stored.status == "dead":
            break
        gap = stored.next_attempt_at - before
        gaps.append(round(gap.total_seconds() / 60))
        clock.advance(gap + timedelta(seconds=1))
    assert gaps == [1, 5, 60, 24 * 60, 48 * 60]
    assert (await row(db, message_id)).status == "dead"
    assert recorder.attempts[message_id] == 6


async def test_retry_later_after_overrides_the_backoff_even_when_zero(
    db: Database, clock: Clock
) -> None:
    recorder = Recorder(
        [RetryLater("soon", after=timedelta(seconds=42)), RetryLater("now", after=timedelta(0))]
    )
    [message_id] = await add(db, clock)
    relay = OutboxRelay(db, clock, {"t": per_message(recorder)})
    before = clock.now()
    await relay.run_once()
    stored = await row(db, message_id)
    assert timedelta(seconds=42) <= stored.next_attempt_at - before < timedelta(seconds=43)
    clock.advance(timedelta(seconds=42))
    # after=0: due again at once, so the same pass retries and delivers it
    assert await relay.run_once() == 1
    assert recorder.attempts[message_id] == 3


async def test_undeliverable_is_dead_lettered_at_once(db: Database, clock: Clock) -> None:
    recorder = Recorder([Undeliverable("410 Gone")])
    [message_id] = await add(db, clock)
    await OutboxRelay(db, clock, {"t": per_message(recorder)}).run_once()
    stored = await row(db, message_id)
    assert (stored.status, stored.attempts, stored.last_error) == ("dead", 1, "410 Gone")


async def test_a_batch_handler_gets_one_topic_per_call_and_its_crash_retries_the_batch(
    db: Database, clock: Clock
) -> None:
    batches: list[list[str]] = []

    async def crashing(
        messages: Sequence[OutboxMessage],
    ) -> list[RetryLater | Undeliverable | None]:
        batches.append([m.id for m in messages])
        raise OSError("socket closed")

    async def miscounting(
        messages: Sequence[OutboxMessage],
    ) -> list[RetryLater | Undeliverable | None]:
        return [None]  # one outcome for several messages: a handler bug

    crash_ids = await add(db, clock, 3, topic="crash")
    bad_ids = await add(db, clock, 2, topic="bad")
    relay = OutboxRelay(db, clock, {"crash": crashing, "bad": miscounting}, batch_size=10)
    assert await relay.run_once() == 0
    assert batches == [crash_ids]
    for message_id in crash_ids + bad_ids:
        stored = await row(db, message_id)
        assert stored.status == "pending"
        assert stored.claimed_until is None  # released for the retry, not stranded
        assert stored.next_attempt_at > clock.now()


async def test_a_crashed_relays_claim_is_redelivered_only_after_its_lease(
    db: Database, clock: Clock
) -> None:
    ids = await add(db, clock, 3)
    crashed = OutboxRelay(db, clock, {"t": per_message(Recorder())}, lease=timedelta(seconds=30))
    claimed = await crashed._claim()  # claims, then "dies" before delivering
    assert sorted(m.id for m in claimed) == sorted(ids)
    recorder = Recorder()
    survivor = OutboxRelay(db, clock, {"t": per_message(recorder)})
    assert await survivor.run_once() == 0  # leased to the dead relay
    clock.advance(timedelta(seconds=30))
    assert await survivor.run_once() == 3
    assert sorted(recorder.delivered) == sorted(ids)
    assert {(await row(db, i)).attempts for i in ids} == {2}


async def test_a_stale_claim_cannot_overwrite_the_outcome_of_a_newer_one(
    db: Database, clock: Clock
) -> None:
    [message_id] = await add(db, clock)
    slow = OutboxRelay(db, clock, {"t": per_message(Recorder())}, lease=timedelta(seconds=5))
    [stale] = await slow._claim()
    clock.advance(timedelta(seconds=6))  # the slow relay's lease ran out ...
    fresh = OutboxRelay(db, clock, {"t": per_message(Recorder())}, max_attempts=2)
    assert await fresh.run_once() == 1  # ... so another relay delivered it
    # the slow relay finally fails with attempts == limit: it must not dead-letter the row
    assert await slow._settle([stale], [RetryLater("timeout")]) == 0
    stored = await row(db, message_id)
    assert stored.status == "delivered"
    assert stored.last_error is None


async def test_two_relays_deliver_each_message_exactly_once(db: Database, clock: Clock) -> None:
    ids = await add(db, clock, 200)
    seen: Counter[str] = Counter()

    async def deliver(message: OutboxMessage) -> None:
        seen[message.id] += 1
        await asyncio.sleep(0.001)

    relays = [OutboxRelay(db, clock, {"t": per_message(deliver)}, batch_size=15) for _ in range(2)]
    totals = await asyncio.gather(*(relay.run_once() for relay in relays))
    assert sum(totals) == 200
    assert set(seen) == set(ids)
    assert max(seen.values()) == 1


async def test_the_background_relay_is_woken_by_commits_and_does_not_spin(
    db: Database, clock: Clock
) -> None:
    recorder = Recorder()
    relay = OutboxRelay(db, clock, {"t": per_message(recorder)}, idle_poll=30.0)
    passes = 0
    run_once = relay.run_once

    async def counting_run_once(*, woken: bool = False) -> int:
        nonlocal passes
        passes += 1
        return await run_once(woken=woken)

    relay.run_once = counting_run_once  # type: ignore[method-assign]
    db.on_commit(lambda _session: relay.wake())
    relay.start()
    try:
        await asyncio.sleep(0.2)
        [message_id] = await add(db, clock)  # the commit wakes the idle relay
        async with asyncio.timeout(5):
            await recorder.some_delivered.wait()
        assert recorder.delivered == [message_id]
        await asyncio.sleep(0.3)
        # one pass at start, one for the commit; its own claim/settle commits wake nothing
        assert passes <= 3, passes
    finally:
        await relay.stop()
    await relay.stop()  # stopping twice is harmless


async def test_purge_keeps_recent_and_dead_messages(db: Database, clock: Clock) -> None:
    recorder = Recorder(failures=[None, Undeliverable("gone")])
    [old_ok, old_dead] = await add(db, clock, 2)
    relay = OutboxRelay(db, clock, {"t": per_message(recorder)})
    await relay.run_once()
    clock.advance(DELIVERED_RETENTION + timedelta(minutes=1))
    [recent] = await add(db, clock, 1)
    await relay.run_once()
    assert await purge_delivered(db, clock.now()) == 1
    async with db.session(write=False) as session:
        assert await session.get(OutboxMessage, old_ok) is None
        assert (await row(db, old_dead)).status == "dead"
        assert (await row(db, recent)).status == "delivered"
