"""The alert state machine (four-eyes, after GOV.UK Notify's broadcast module), as a table.

draft     --submit-->            submitted
submitted --approve-->           sending     (a second person, role approver)
submitted --reject-->            draft       (with a note; the author may edit and resubmit)
draft     --withdraw-->          withdrawn
submitted --withdraw-->          withdrawn
draft     --publish_emergency--> sending     (emergency_publisher only, no second person)
sending   --complete-->          completed   (no delivery left to attempt)
"""

from __future__ import annotations

from enum import StrEnum

from services.kit.state_machine import StateMachine


class AlertState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    SENDING = "sending"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class AlertTransition(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    PUBLISH_EMERGENCY = "publish_emergency"
    COMPLETE = "complete"


_S, _T = AlertState, AlertTransition

ALERTS: StateMachine[AlertState, AlertTransition] = StateMachine(
    {
        (_S.DRAFT, _T.SUBMIT): _S.SUBMITTED,
        (_S.SUBMITTED, _T.APPROVE): _S.SENDING,
        (_S.SUBMITTED, _T.REJECT): _S.DRAFT,
        (_S.DRAFT, _T.WITHDRAW): _S.WITHDRAWN,
        (_S.SUBMITTED, _T.WITHDRAW): _S.WITHDRAWN,
        (_S.DRAFT, _T.PUBLISH_EMERGENCY): _S.SENDING,
        (_S.SENDING, _T.COMPLETE): _S.COMPLETED,
    }
)

# What the audit log calls each step.
AUDIT_ACTIONS: dict[AlertTransition, str] = {
    _T.SUBMIT: "alert.submitted",
    _T.APPROVE: "alert.approved",
    _T.REJECT: "alert.rejected",
    _T.WITHDRAW: "alert.withdrawn",
    _T.PUBLISH_EMERGENCY: "alert.published_emergency",
    _T.COMPLETE: "alert.completed",
}

SENT_STATES = frozenset({_S.SENDING, _S.COMPLETED})


def is_sent(state: AlertState | str) -> bool:
    return AlertState(state) in SENT_STATES
