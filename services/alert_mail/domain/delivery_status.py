"""The life of one delivery (after GOV.UK Notify's statuses):

    created ──claim──▶ sending ──▶ delivered
                        │  ├──▶ temporary-failure ──claim (when due)──▶ sending ...
                        │  ├──▶ technical-failure   (temporary failures until max_attempts)
                        │  └──▶ permanent-failure   (5xx)
                        └── lease expired (the worker died) ──claim──▶ sending
    created, temporary-failure, sending ──cancel──▶ cancelled   (a Cancel of its alert)

A cancel settles the deliveries waiting in the queue at once; one a worker holds (`sending`)
is settled by that worker, which sends no mail of a cancelled alert (it looks at claim time
and again before each send). A mail already sent stays `delivered`.

A temporary failure only reschedules its own row: it never waits in line, so failing
recipients cannot slow the healthy ones (Okayama, July 2018)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal

from services.kit.state_machine import StateMachine


class DeliveryState(StrEnum):
    CREATED = "created"
    SENDING = "sending"
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary-failure"
    PERMANENT_FAILURE = "permanent-failure"
    TECHNICAL_FAILURE = "technical-failure"
    CANCELLED = "cancelled"


class DeliveryTransition(StrEnum):
    CLAIM = "claim"
    DELIVER = "deliver"
    DEFER = "defer"
    BOUNCE = "bounce"
    GIVE_UP = "give_up"
    CANCEL = "cancel"


_S, _T = DeliveryState, DeliveryTransition
DELIVERIES: Final = StateMachine(
    {
        (_S.CREATED, _T.CLAIM): _S.SENDING,
        (_S.TEMPORARY_FAILURE, _T.CLAIM): _S.SENDING,
        (_S.SENDING, _T.CLAIM): _S.SENDING,  # the lease expired: the worker died
        (_S.SENDING, _T.DELIVER): _S.DELIVERED,
        (_S.SENDING, _T.DEFER): _S.TEMPORARY_FAILURE,
        (_S.SENDING, _T.BOUNCE): _S.PERMANENT_FAILURE,
        (_S.SENDING, _T.GIVE_UP): _S.TECHNICAL_FAILURE,
        (_S.CREATED, _T.CANCEL): _S.CANCELLED,
        (_S.TEMPORARY_FAILURE, _T.CANCEL): _S.CANCELLED,
        (_S.SENDING, _T.CANCEL): _S.CANCELLED,
    }
)

SendOutcome = Literal["delivered", "temporary-failure", "permanent-failure"]
"""What one attempt at the SMTP server gave (the sender's vocabulary, not a state)."""

CANCELLED_DETAIL: Final = "the alert was cancelled"
"""A cancelled delivery's `last_detail`, whoever settled it (the Cancel or a worker)."""

STATUSES: Final[tuple[DeliveryState, ...]] = tuple(DeliveryState)
PENDING: Final[frozenset[DeliveryState]] = DELIVERIES.states_allowing(_T.CLAIM)
QUEUED: Final[tuple[DeliveryState, ...]] = tuple(
    s for s in STATUSES if s in PENDING and s is not _S.SENDING
)
"""Waiting in the queue, held by no worker (in declaration order: the queue index's text)."""
FINAL: Final[frozenset[DeliveryState]] = DELIVERIES.final_states()


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

    status: DeliveryState
    transition: DeliveryTransition
    next_attempt_at: datetime | None = None


def settle(outcome: SendOutcome, attempts: int, at: datetime, policy: RetryPolicy) -> Settled:
    """The transition out of `sending` for one attempt's outcome."""
    next_attempt_at = None
    if outcome == "delivered":
        transition = _T.DELIVER
    elif outcome == "permanent-failure":
        transition = _T.BOUNCE
    elif attempts >= policy.max_attempts:
        transition = _T.GIVE_UP
    else:
        transition, next_attempt_at = _T.DEFER, at + policy.backoff(attempts)
    return Settled(DELIVERIES.apply(_S.SENDING, transition), transition, next_attempt_at)


def reach_rate(delivered: int, total: int) -> float:
    """到達率: delivered over all recipients (0.0 for an alert without any)."""
    return round(delivered / total, 4) if total else 0.0
