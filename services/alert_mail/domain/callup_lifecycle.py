"""The call-up state machine, as a table.

    open --reply--> open      (a member answers; later answers replace earlier ones)
    open --close--> closed    (staff stop collecting answers)

A reply to a closed call-up is an illegal transition (409 naming the state `closed`)."""

from __future__ import annotations

from enum import StrEnum

from services.kit.errors import IllegalTransition


class CallupState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CallupTransition(StrEnum):
    REPLY = "reply"
    CLOSE = "close"


TABLE: dict[tuple[CallupState, CallupTransition], CallupState] = {
    (CallupState.OPEN, CallupTransition.REPLY): CallupState.OPEN,
    (CallupState.OPEN, CallupTransition.CLOSE): CallupState.CLOSED,
}


def apply(state: CallupState | str, transition: CallupTransition | str) -> CallupState:
    """The state after `transition`; IllegalTransition (409) names the current state."""
    try:
        key = (CallupState(state), CallupTransition(transition))
    except ValueError:
        raise IllegalTransition(str(state), str(transition)) from None
    if key not in TABLE:
        raise IllegalTransition(key[0].value, key[1].value)
    return TABLE[key]
