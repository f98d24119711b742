"""How an application reads: for its applicant, and for the department's staff (who also see
the assignment, internal comments and what a resubmission changed)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.attachments_service import (
    APPLICANT_KINDS,
    AttachmentKind,
    attachment_read,
    attachments_of,
)
from services.e_application.domain.catalogue import ProcedureDefinition
from services.e_application.domain.fees import PaymentMethod
from services.e_application.domain.lifecycle import (
    CLOCK_RUNNING,
    EDITABLE,
    LABELS_JA,
    LIFECYCLE,
    STAFF_TRANSITIONS,
    Channel,
    PaymentStatus,
    Status,
    Transition,
)
from services.e_application.models import Application, ApplicationEvent, PaymentAttempt
from services.e_application.schemas.applications import (
    ApplicationRead,
    CorrectionRead,
    EventRead,
    MineItem,
    PaymentAttemptRead,
    PaymentRead,
    QueueItem,
    SignatureRead,
    StaffApplicationRead,
    StaffEventRead,
)
from services.kit.clock import JST

DOCUMENTS_RELEASED = frozenset({Status.COMPLETED})
_WITHDRAWABLE = LIFECYCLE.states_allowing(Transition.WITHDRAW)


async def attempts_of(session: AsyncSession, application_id: str) -> list[PaymentAttempt]:
    result = await session.exec(
        select(PaymentAttempt)
        .where(col(PaymentAttempt.application_id) == application_id)
        .order_by(col(PaymentAttempt.attempt))
    )
    return list(result.all())


def is_overdue(application: Application, today: date) -> bool:
    return (
        application.due_on is not None
        and application.due_on < today
        and Status(application.status) in CLOCK_RUNNING
    )


def applicant_actions(application: Application) -> list[str]:
    status = Status(application.status)
    actions: list[str] = []
    if status in EDITABLE:
        actions += ["update", "attach"]
        actions.append("submit" if status is Status.DRAFT else "resubmit")
    if status in _WITHDRAWABLE:
        actions.append("withdraw")
    if status is Status.AWAITING_PAYMENT and application.payment_status != PaymentStatus.PAID:
        actions.append("pay")
    return actions


def _signature(application: Application) -> SignatureRead | None:
    stored = application.signature
    if not stored:
        return None
    return SignatureRead(
        signer_name=str(stored["signer"].get("name") or ""),
        serial=str(stored["serial"]),
        signed_at=datetime.fromisoformat(str(stored["signed_at"])),
        payload_sha256=str(stored["payload_sha256"]),
    )


async def applicant_view(
    session: AsyncSession,
    application: Application,
    spec: ProcedureDefinition,
    *,
    access_code: str | None = None,
) -> ApplicationRead:
    files = await attachments_of(session, application.id)
    released = Status(application.status) in DOCUMENTS_RELEASED
    correction = application.correction
    return ApplicationRead(
        id=application.id,
        procedure_code=application.procedure_code,
        procedure_version=application.procedure_version,
        procedure_name_ja=spec.name_ja,
        procedure_name_en=spec.name_en,
        department=application.department,
        status=Status(application.status),
        status_label_ja=LABELS_JA[Status(application.status)],
        reference=application.reference,
        access_code=access_code,
        channel=Channel(application.channel),
        form=application.form,
        locale="en" if application.locale == "en" else "ja",
        contact_email=application.contact_email,
        representative=application.representative,
        payment=PaymentRead(
            status=PaymentStatus(application.payment_status),
            amount_yen=application.fee_yen,
            method=PaymentMethod(application.payment_method)
            if application.payment_method
            else None,
            payment_id=application.payment_id,
            instructions=application.payment_instructions,
            attempts=[
                PaymentAttemptRead(
                    payment_id=a.payment_id,
                    attempt=a.attempt,
                    method=PaymentMethod(a.method),
                    amount_yen=a.amount_yen,
                    status=a.status,
                    expires_at=a.expires_at,
                    created_at=a.created_at,
                )
                for a in await attempts_of(session, application.id)
            ],
        ),
        correction=CorrectionRead(**correction) if correction else None,
        signature=_signature(application),
        due_on=application.due_on,
        attachments=[attachment_read(f) for f in files if f.kind in APPLICANT_KINDS],
        documents=[
            attachment_read(f) for f in files if f.kind == AttachmentKind.ISSUED and released
        ],
        allowed_actions=applicant_actions(application),
        created_at=application.created_at,
        updated_at=application.updated_at,
        submitted_at=application.submitted_at,
        decided_at=application.decided_at,
        completed_at=application.completed_at,
    )


async def _changed_since_return(session: AsyncSession, application: Application) -> list[str]:
    last = (
        await session.exec(
            select(ApplicationEvent)
            .where(col(ApplicationEvent.application_id) == application.id)
            .where(col(ApplicationEvent.transition) == Transition.RESUBMIT.value)
            .order_by(col(ApplicationEvent.seq).desc())
            .limit(1)
        )
    ).first()
    changed = last.data.get("changed") if last is not None else None
    return [str(p) for p in changed] if isinstance(changed, list) else []


async def staff_view(
    session: AsyncSession, application: Application, spec: ProcedureDefinition, today: date
) -> StaffApplicationRead:
    base = await applicant_view(session, application, spec)
    files = await attachments_of(session, application.id)
    status = Status(application.status)
    return StaffApplicationRead(
        **base.model_dump(exclude={"documents"}),
        documents=[attachment_read(f) for f in files if f.kind == AttachmentKind.ISSUED],
        owner_sub=application.owner_sub,
        filed_by=application.filed_by,
        assigned_to=application.assigned_to,
        approval_requested_by=application.approval_requested_by,
        overdue=is_overdue(application, today),
        changed_since_return=await _changed_since_return(session, application),
        allowed_transitions=[t for t in LIFECYCLE.allowed(status) if t in STAFF_TRANSITIONS],
    )


def queue_item(application: Application, today: date) -> QueueItem:
    return QueueItem(
        id=application.id,
        reference=application.reference,
        procedure_code=application.procedure_code,
        status=Status(application.status),
        channel=Channel(application.channel),
        assigned_to=application.assigned_to,
        submitted_at=application.submitted_at,
        due_on=application.due_on,
        overdue=is_overdue(application, today),
        fee_yen=application.fee_yen,
        payment_status=PaymentStatus(application.payment_status),
    )


def mine_item(application: Application) -> MineItem:
    return MineItem(
        id=application.id,
        reference=application.reference,
        procedure_code=application.procedure_code,
        procedure_version=application.procedure_version,
        status=Status(application.status),
        status_label_ja=LABELS_JA[Status(application.status)],
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


def event_read(event: ApplicationEvent) -> EventRead:
    return EventRead(
        seq=event.seq,
        at=event.at,
        transition=event.transition,
        from_status=Status(event.from_status) if event.from_status else None,
        to_status=Status(event.to_status),
        actor_kind=event.actor_kind,
        comment=event.comment,
        data=event.data,
    )


def staff_event_read(event: ApplicationEvent) -> StaffEventRead:
    return StaffEventRead(
        **event_read(event).model_dump(), actor=event.actor, internal_comment=event.internal_comment
    )


def today_jst(now: datetime) -> date:
    return now.astimezone(JST).date()
