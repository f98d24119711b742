"""The case workflow of an application (収受 → 審査 → 決裁 → 交付), as one transition table.

Submission, payment and the case itself are separate axes (as Open Forms keeps them): this
table is the case; `PaymentStatus` is the fee's own axis.
"""

from __future__ import annotations

from enum import StrEnum

from services.kit import assurance
from services.kit.assurance import Acr
from services.kit.state_machine import StateMachine


class Status(StrEnum):
    DRAFT = "draft"  # 一時保存
    SUBMITTED = "submitted"  # 受付
    IN_REVIEW = "in_review"  # 審査中
    RETURNED = "returned"  # 差戻し (補正待ち): the processing clock pauses
    AWAITING_APPROVAL = "awaiting_approval"  # 決裁待ち (four eyes)
    APPROVED = "approved"  # 承認
    REJECTED = "rejected"  # 却下
    AWAITING_PAYMENT = "awaiting_payment"  # 手数料の支払待ち
    COMPLETED = "completed"  # 交付・完了
    WITHDRAWN = "withdrawn"  # 取下げ
    EXPIRED = "expired"  # 補正期限切れ (不受理)


class Transition(StrEnum):
    SUBMIT = "submit"
    START_REVIEW = "start_review"
    RETURN = "return"
    RESUBMIT = "resubmit"
    REQUEST_APPROVAL = "request_approval"
    SEND_BACK = "send_back"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_PAYMENT = "request_payment"
    PAYMENT_RECEIVED = "payment_received"
    COMPLETE = "complete"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"


_S, _T = Status, Transition

LIFECYCLE: StateMachine[Status, Transition] = StateMachine(
    {
        (_S.DRAFT, _T.SUBMIT): _S.SUBMITTED,
        (_S.SUBMITTED, _T.START_REVIEW): _S.IN_REVIEW,
        (_S.SUBMITTED, _T.WITHDRAW): _S.WITHDRAWN,
        (_S.IN_REVIEW, _T.RETURN): _S.RETURNED,
        (_S.IN_REVIEW, _T.REQUEST_APPROVAL): _S.AWAITING_APPROVAL,
        (_S.IN_REVIEW, _T.APPROVE): _S.APPROVED,
        (_S.IN_REVIEW, _T.REJECT): _S.REJECTED,
        (_S.IN_REVIEW, _T.WITHDRAW): _S.WITHDRAWN,
        (_S.RETURNED, _T.RESUBMIT): _S.IN_REVIEW,
        (_S.RETURNED, _T.WITHDRAW): _S.WITHDRAWN,
        (_S.RETURNED, _T.EXPIRE): _S.EXPIRED,
        (_S.AWAITING_APPROVAL, _T.APPROVE): _S.APPROVED,
        (_S.AWAITING_APPROVAL, _T.REJECT): _S.REJECTED,
        (_S.AWAITING_APPROVAL, _T.SEND_BACK): _S.IN_REVIEW,
        (_S.AWAITING_APPROVAL, _T.WITHDRAW): _S.WITHDRAWN,
        (_S.APPROVED, _T.REQUEST_PAYMENT): _S.AWAITING_PAYMENT,
        (_S.APPROVED, _T.COMPLETE): _S.COMPLETED,
        (_S.AWAITING_PAYMENT, _T.PAYMENT_RECEIVED): _S.COMPLETED,
    }
)

# Transitions a staff member of the department makes through the workflow endpoints.
STAFF_TRANSITIONS = frozenset(
    {
        _T.START_REVIEW,
        _T.RETURN,
        _T.REQUEST_APPROVAL,
        _T.SEND_BACK,
        _T.APPROVE,
        _T.REJECT,
        _T.COMPLETE,
    }
)
# While these hold, the 標準処理期間 clock runs and the application can be overdue.
CLOCK_RUNNING = frozenset({_S.SUBMITTED, _S.IN_REVIEW, _S.AWAITING_APPROVAL})
# The applicant may still change the form and the attachments.
EDITABLE = frozenset({_S.DRAFT, _S.RETURNED})
# Capacity a sign-up holds is given back when it ends in one of these.
RELEASES_SEAT = frozenset({_S.WITHDRAWN, _S.REJECTED, _S.EXPIRED})

LABELS_JA: dict[Status, str] = {
    _S.DRAFT: "一時保存",
    _S.SUBMITTED: "受付",
    _S.IN_REVIEW: "審査中",
    _S.RETURNED: "差戻し（補正待ち）",
    _S.AWAITING_APPROVAL: "決裁待ち",
    _S.APPROVED: "承認",
    _S.REJECTED: "却下",
    _S.AWAITING_PAYMENT: "手数料お支払い待ち",
    _S.COMPLETED: "交付・完了",
    _S.WITHDRAWN: "取下げ",
    _S.EXPIRED: "補正期限切れ",
}


class PaymentStatus(StrEnum):
    """The fee's own axis: several payment attempts may come and go while it is due."""

    NOT_REQUIRED = "not_required"
    DUE = "due"  # no live payment yet (or the last one expired): the applicant starts one
    PENDING = "pending"  # a slip or order is open at payments_mock
    PAID = "paid"


class Channel(StrEnum):
    """How the application reached the city."""

    ONLINE = "online"
    COUNTER = "counter"  # 窓口代行: entered by staff for the applicant
    REPRESENTATIVE = "representative"  # 代理人 with a 委任状


class Assurance(StrEnum):
    """What a procedure asks of the login: none, or a kit.assurance level (citizen side)."""

    ANONYMOUS = "anonymous"
    EMAIL = Acr.EMAIL.value
    PASSWORD = Acr.PASSWORD.value
    JPKI = Acr.JPKI.value


def meets(acr: str | None, required: Assurance) -> bool:
    """Whether a token's `acr` is at least the procedure's assurance."""
    return required is Assurance.ANONYMOUS or assurance.meets(acr, Acr(required.value))
