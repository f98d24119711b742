"""The call-up state machine, as a table.

    open --reply--> open      (a member answers; later answers replace earlier ones)
    open --close--> closed    (staff stop collecting answers)

A reply to a closed call-up is an illegal transition (409 naming the state `closed`)."""

from __future__ import annotations

from enum import StrEnum

from services.kit.state_machine import StateMachine


class CallupState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CallupTransition(StrEnum):
    REPLY = "reply"
    CLOSE = "close"


CALLUPS: StateMachine[CallupState, CallupTransition] = StateMachine(
    {
        (CallupState.OPEN, CallupTransition.REPLY): CallupState.OPEN,
        (CallupState.OPEN, CallupTransition.CLOSE): CallupState.CLOSED,
    }
)


def accepts_replies(state: CallupState | str) -> bool:
    return CALLUPS.can(state, CallupTransition.REPLY)
