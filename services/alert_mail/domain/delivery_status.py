"""The life of one delivery (after GOV.UK Notify's statuses):

    created ──claim──▶ sending ──▶ delivered
                        │  ├──▶ temporary-failure ──claim (when due)──▶ sending ...
                        │  ├──▶ technical-failure   (temporary failures until max_attempts)
                        │  └──▶ permanent-failure   (5xx)
                        └── lease expired (the worker died) ──claim──▶ sending
    created, temporary-failure, sending ──cancel─────▶ cancelled    (a Cancel of its alert)
    created, temporary-failure, sending ──supersede──▶ superseded   (an Update of its alert)

Both are stops (`STOPS`): the alert's mails not yet sent will never be, because a later CAP
message replaced the alert (CAP 1.2 §3.2.1: an Update "supersedes the earlier message(s)"). A
stop settles the deliveries waiting in the queue at once; one a worker holds (`sending`) is
settled by that worker, which sends no mail of a stopped alert (it looks at claim time and
again before each send). A mail already sent stays `delivered`.

A temporary failure only reschedules its own row: it never waits in line, so failing
recipients cannot slow the healthy ones (Okayama, July 2018)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal

from services.alert_mail.domain.alert_rules import MsgType
from services.kit.state_machine import StateMachine


class DeliveryState(StrEnum):
    CREATED = "created"
    SENDING = "sending"
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary-failure"
    PERMANENT_FAILURE = "permanent-failure"
    TECHNICAL_FAILURE = "technical-failure"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


class DeliveryTransition(StrEnum):
    CLAIM = "claim"
    DELIVER = "deliver"
    DEFER = "defer"
    BOUNCE = "bounce"
    GIVE_UP = "give_up"
    CANCEL = "cancel"
    SUPERSEDE = "supersede"


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
        (_S.CREATED, _T.SUPERSEDE): _S.SUPERSEDED,
        (_S.TEMPORARY_FAILURE, _T.SUPERSEDE): _S.SUPERSEDED,
        (_S.SENDING, _T.SUPERSEDE): _S.SUPERSEDED,
    }
)

SendOutcome = Literal["delivered", "temporary-failure", "permanent-failure"]
"""What one attempt at the SMTP server gave (the sender's vocabulary, not a state)."""

STOPS: Final[Mapping[DeliveryTransition, str]] = {
    _T.CANCEL: "the alert was cancelled",
    _T.SUPERSEDE: "a later update superseded the alert",
}
"""The transitions that stop an alert's unsent mails, each with the `last_detail` of the
deliveries it settles, whoever settles them (the Cancel or Update itself, or a worker)."""

STOP_BY: Final[Mapping[MsgType, DeliveryTransition]] = {
    MsgType.CANCEL: _T.CANCEL,
    MsgType.UPDATE: _T.SUPERSEDE,
}
"""How a later message that references an alert stops that alert's unsent mails."""


def stop_of(*, cancelled: bool, superseded: bool) -> DeliveryTransition | None:
    """The stop an alert's row records: a Cancel (which may follow an Update) or an Update."""
    if cancelled:
        return _T.CANCEL
    return _T.SUPERSEDE if superseded else None


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
