"""The life of one delivery (after GOV.UK Notify's statuses):

    created ──claim──▶ sending ──▶ delivered
                        │  ├──▶ temporary-failure ──claim (when due)──▶ sending ...
                        │  ├──▶ technical-failure   (temporary failures until max_attempts)
                        │  └──▶ permanent-failure   (5xx)
                        └── lease expired (the worker died) ──claim──▶ sending

A temporary failure only reschedules its own row: it never waits in line, so failing
recipients cannot slow the healthy ones (Okayama, July 2018)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

Status = Literal[
    "created",
    "sending",
    "delivered",
    "temporary-failure",
    "permanent-failure",
    "technical-failure",
]
SendOutcome = Literal["delivered", "temporary-failure", "permanent-failure"]

STATUSES: Final[tuple[Status, ...]] = (
    "created",
    "sending",
    "delivered",
    "temporary-failure",
    "permanent-failure",
    "technical-failure",
)
PENDING: Final[frozenset[Status]] = frozenset({"created", "sending", "temporary-failure"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    backoff_seconds: tuple[int, ...]
    max_attempts: int

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th try failed (the last step repeats)."""
        steps = self.backoff_seconds or (60,)
        return timedelta(seconds=steps[min(max(attempts, 1), len(steps)) - 1])


@dataclass(frozen=True, slots=True)
class Settled:
    """Where a sent (or simulated) delivery goes next."""

    status: Status
    transition: str
    next_attempt_at: datetime | None = None


def settle(outcome: SendOutcome, attempts: int, at: datetime, policy: RetryPolicy) -> Settled:
    """The transition out of `sending` for one attempt's outcome."""
    if outcome == "delivered":
        return Settled("delivered", "deliver")
    if outcome == "permanent-failure":
        return Settled("permanent-failure", "bounce")
    if attempts >= policy.max_attempts:
        return Settled("technical-failure", "give_up")
    return Settled("temporary-failure", "defer", at + policy.backoff(attempts))


def reach_rate(delivered: int, total: int) -> float:
    """到達率: delivered over all recipients (0.0 for an alert without any)."""
    return round(delivered / total, 4) if total else 0.0
