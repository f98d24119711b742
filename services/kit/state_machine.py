"""One generic transition table for every lifecycle of every service.

A service declares its states and transitions as `StrEnum`s and its table as data:

    PAYMENTS = StateMachine({
        (PaymentState.AWAITING_PAYMENT, Transition.PAY): PaymentState.PAID,
        ...
    })
    new_state = PAYMENTS.apply(payment.status, Transition.PAY)   # 409 naming the current state

Plain Python: domain modules use it without importing a web framework; an illegal transition
raises `IllegalTransition`, which every app renders as a 409 problem with `current_state`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from services.kit.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)
T = TypeVar("T", bound=StrEnum)


class StateMachine(Generic[S, T]):
    """An immutable transition table `(state, transition) -> next state`."""

    __slots__ = ("_outgoing", "_states", "_table", "_transitions")

    def __init__(self, table: Mapping[tuple[S, T], S]) -> None:
        if not table:
            raise ValueError("a state machine needs at least one transition")
        self._table: dict[tuple[S, T], S] = dict(table)
        first_state, first_transition = next(iter(self._table))
        self._states: type[S] = type(first_state)
        self._transitions: type[T] = type(first_transition)
        outgoing: dict[S, list[T]] = {}
        for state, transition in self._table:
            outgoing.setdefault(state, []).append(transition)
        self._outgoing: dict[S, tuple[T, ...]] = {s: tuple(ts) for s, ts in outgoing.items()}

    @property
    def table(self) -> Mapping[tuple[S, T], S]:
        return dict(self._table)

    def _parse(self, state: S | str, transition: T | str) -> tuple[S, T]:
        try:
            return self._states(state), self._transitions(transition)
        except ValueError:
            raise IllegalTransition(str(state), str(transition)) from None

    def apply(self, state: S | str, transition: T | str) -> S:
        """The state after `transition`; `IllegalTransition` (409) names the current state."""
        key = self._parse(state, transition)
        try:
            return self._table[key]
        except KeyError:
            raise IllegalTransition(key[0].value, key[1].value) from None

    def can(self, state: S | str, transition: T | str) -> bool:
        try:
            return self._parse(state, transition) in self._table
        except IllegalTransition:
            return False

    def allowed(self, state: S | str) -> tuple[T, ...]:
        """The transitions that may leave `state`, in table order."""
        try:
            return self._outgoing.get(self._states(state), ())
        except ValueError:
            return ()

    def require(self, state: S | str, transition: T | str) -> None:
        """A guard: raises as `apply` would, returns nothing (for steps checked before work)."""
        self.apply(state, transition)

    def states_allowing(self, transition: T | str) -> frozenset[S]:
        """Every state `transition` may leave (e.g. for a conditional UPDATE's WHERE)."""
        wanted = self._transitions(transition)
        return frozenset(s for (s, t) in self._table if t is wanted)

    def final_states(self, states: Iterable[S] | None = None) -> frozenset[S]:
        """The states no transition leaves."""
        candidates = self._states if states is None else states
        return frozenset(s for s in candidates if s not in self._outgoing)
