"""Every lifecycle of facility booking as a kit state machine."""

from __future__ import annotations

from enum import StrEnum

from services.kit.state_machine import StateMachine


class RegistrationState(StrEnum):
    PENDING = "pending"  # 審査中
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class RegistrationStep(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


REGISTRATIONS = StateMachine(
    {
        (RegistrationState.PENDING, RegistrationStep.APPROVE): RegistrationState.APPROVED,
        (RegistrationState.PENDING, RegistrationStep.REJECT): RegistrationState.REJECTED,
        (RegistrationState.APPROVED, RegistrationStep.SUSPEND): RegistrationState.SUSPENDED,
        (RegistrationState.SUSPENDED, RegistrationStep.REINSTATE): RegistrationState.APPROVED,
    }
)


class ReservationState(StrEnum):
    HELD = "held"  # 仮予約: payment pending until hold_expires_at
    CONFIRMED = "confirmed"
    USED = "used"
    CANCELLED = "cancelled"
    CANCELLED_BY_FACILITY = "cancelled_by_facility"
    EXPIRED = "expired"


class ReservationStep(StrEnum):
    PAY = "pay"
    USE = "use"
    CANCEL = "cancel"
    CANCEL_BY_FACILITY = "cancel_by_facility"
    EXPIRE = "expire"


RESERVATIONS = StateMachine(
    {
        (ReservationState.HELD, ReservationStep.PAY): ReservationState.CONFIRMED,
        (ReservationState.HELD, ReservationStep.CANCEL): ReservationState.CANCELLED,
        (ReservationState.HELD, ReservationStep.EXPIRE): ReservationState.EXPIRED,
        (
            ReservationState.HELD,
            ReservationStep.CANCEL_BY_FACILITY,
        ): ReservationState.CANCELLED_BY_FACILITY,
        (ReservationState.CONFIRMED, ReservationStep.USE): ReservationState.USED,
        (ReservationState.CONFIRMED, ReservationStep.CANCEL): ReservationState.CANCELLED,
        (
            ReservationState.CONFIRMED,
            ReservationStep.CANCEL_BY_FACILITY,
        ): ReservationState.CANCELLED_BY_FACILITY,
    }
)
ACTIVE_RESERVATION_STATES = frozenset({ReservationState.HELD, ReservationState.CONFIRMED})


class RoundState(StrEnum):
    OPEN = "open"  # entries accepted inside the window; commitment published
    DRAWN = "drawn"  # seed revealed, winners confirming
    FINISHED = "finished"  # unconfirmed wins released; first-come may open


class RoundStep(StrEnum):
    DRAW = "draw"
    FINISH = "finish"


ROUNDS = StateMachine(
    {
        (RoundState.OPEN, RoundStep.DRAW): RoundState.DRAWN,
        (RoundState.DRAWN, RoundStep.FINISH): RoundState.FINISHED,
    }
)


class EntryState(StrEnum):
    ENTERED = "entered"
    WITHDRAWN = "withdrawn"
    WON = "won"
    LOST = "lost"
    VOID = "void"  # won, but the slot was blocked by the facility before the draw
    CONFIRMED = "confirmed"  # the win became a reservation
    RELEASED = "released"  # not confirmed in time


class EntryStep(StrEnum):
    WITHDRAW = "withdraw"
    WIN = "win"
    LOSE = "lose"
    VOID = "void"
    CONFIRM = "confirm"
    RELEASE = "release"


ENTRIES = StateMachine(
    {
        (EntryState.ENTERED, EntryStep.WITHDRAW): EntryState.WITHDRAWN,
        (EntryState.ENTERED, EntryStep.WIN): EntryState.WON,
        (EntryState.ENTERED, EntryStep.LOSE): EntryState.LOST,
        (EntryState.ENTERED, EntryStep.VOID): EntryState.VOID,
        (EntryState.WON, EntryStep.CONFIRM): EntryState.CONFIRMED,
        (EntryState.WON, EntryStep.RELEASE): EntryState.RELEASED,
    }
)


class WaitState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # the slot is held for this user until offer_expires_at
    ACCEPTED = "accepted"
    LAPSED = "lapsed"
    LEFT = "left"


class WaitStep(StrEnum):
    OFFER = "offer"
    ACCEPT = "accept"
    LAPSE = "lapse"
    LEAVE = "leave"


WAITLIST = StateMachine(
    {
        (WaitState.WAITING, WaitStep.OFFER): WaitState.OFFERED,
        (WaitState.WAITING, WaitStep.LEAVE): WaitState.LEFT,
        (WaitState.OFFERED, WaitStep.ACCEPT): WaitState.ACCEPTED,
        (WaitState.OFFERED, WaitStep.LAPSE): WaitState.LAPSED,
        (WaitState.OFFERED, WaitStep.LEAVE): WaitState.LEFT,
    }
)
