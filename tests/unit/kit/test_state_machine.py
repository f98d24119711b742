from __future__ import annotations

from enum import StrEnum

import pytest

from services.kit.errors import IllegalTransition
from services.kit.state_machine import StateMachine


class Door(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    LOCKED = "locked"
    GONE = "gone"


class Move(StrEnum):
    CLOSE = "close"
    OPEN = "open"
    LOCK = "lock"
    UNLOCK = "unlock"
    REMOVE = "remove"


DOOR = StateMachine(
    {
        (Door.OPEN, Move.CLOSE): Door.CLOSED,
        (Door.CLOSED, Move.OPEN): Door.OPEN,
        (Door.CLOSED, Move.LOCK): Door.LOCKED,
        (Door.LOCKED, Move.UNLOCK): Door.CLOSED,
        (Door.CLOSED, Move.REMOVE): Door.GONE,
        (Door.OPEN, Move.REMOVE): Door.GONE,
    }
)


def test_apply_follows_the_table_and_accepts_plain_strings() -> None:
    assert DOOR.apply(Door.OPEN, Move.CLOSE) is Door.CLOSED
    assert DOOR.apply("closed", "lock") is Door.LOCKED


def test_an_illegal_transition_names_the_current_state() -> None:
    with pytest.raises(IllegalTransition) as raised:
        DOOR.apply(Door.LOCKED, Move.OPEN)
    assert raised.value.current_state == "locked"
    assert raised.value.transition == "open"
    assert raised.value.status == 409
    assert raised.value.extensions["current_state"] == "locked"


def test_unknown_names_are_illegal_not_value_errors() -> None:
    with pytest.raises(IllegalTransition):
        DOOR.apply("ajar", Move.CLOSE)
    with pytest.raises(IllegalTransition):
        DOOR.apply(Door.OPEN, "kick")
    assert not DOOR.can("ajar", Move.CLOSE)
    assert DOOR.allowed("ajar") == ()


def test_allowed_can_require_and_final_states() -> None:
    assert DOOR.allowed(Door.CLOSED) == (Move.OPEN, Move.LOCK, Move.REMOVE)
    assert DOOR.allowed(Door.GONE) == ()
    assert DOOR.can(Door.OPEN, Move.REMOVE)
    assert not DOOR.can(Door.LOCKED, Move.REMOVE)
    DOOR.require(Door.OPEN, Move.CLOSE)
    with pytest.raises(IllegalTransition):
        DOOR.require(Door.GONE, Move.OPEN)
    assert DOOR.states_allowing(Move.REMOVE) == {Door.OPEN, Door.CLOSED}
    assert DOOR.final_states() == {Door.GONE}


def test_an_empty_table_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one transition"):
        StateMachine({})
