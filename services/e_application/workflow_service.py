"""Use cases of the department's staff: the queue, assignment, the review transitions with
four-eyes approval and the sweep that expires unanswered returns (documents issued back:
`documents_service`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application import applications_service, attachments_service, case_history, notices
from services.e_application.access_rules import may_read, read_filter
from services.e_application.domain.catalogue import ProcedureDefinition
from services.e_application.domain.lifecycle import (
    CLOCK_RUNNING,
    LIFECYCLE,
    PaymentStatus,
    Status,
    Transition,
)
from services.e_application.models import Application
from services.e_application.schemas.applications import ReturnRequest, TransitionRequest
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from services.kit.pagination import keyset_page

SERVICE = "e_application"
FINAL = LIFECYCLE.final_states()


def _not_found(application_id: str) -> NotFound:
    return NotFound(f"no application {application_id}")


async def for_staff(
    session: AsyncSession, application_id: str, staff: Principal, *, lock: bool = False
) -> Application:
    """An application of the staff member's department; any other is a 404."""
    if lock:
        application = await case_history.load_for_update(session, application_id)
    else:
        found = await session.get(Application, application_id)
        if found is None:
            raise _not_found(application_id)
        application = found
    if not may_read(staff, application):  # staff never own one: their department's only
        raise _not_found(application_id)
    return application


async def record_view(
    session: AsyncSession, staff: Principal, application: Application, now: datetime
) -> None:
    """Staff reads of personal data are audited (`application.viewed`)."""
    await audit.record(
        session,
        staff,
        "application.viewed",
        f"application:{application.id}",
        service=SERVICE,
        now=now,
        changes={"reference": application.reference},
    )


async def queue(
    session: AsyncSession,
    staff: Principal,
    *,
    status: Status | None,
    procedure: str | None,
    overdue: bool | None,
    assigned_to_me: bool,
    unassigned: bool,
    today: date,
    limit: int,
    cursor: str | None,
) -> tuple[list[Application], str | None]:
    """The department's submitted applications, oldest first."""
    query = (
        select(Application)
        .where(read_filter(staff))
        .where(col(Application.status) != Status.DRAFT.value)
    )
    if status is not None:
        query = query.where(col(Application.status) == status.value)
    if procedure is not None:
        query = query.where(col(Application.procedure_code) == procedure)
    running = [s.value for s in CLOCK_RUNNING]
    if overdue is True:
        query = query.where(col(Application.due_on) < today).where(
            col(Application.status).in_(running)
        )
    elif overdue is False:
        query = query.where(
            (col(Application.due_on).is_(None))
            | (col(Application.due_on) >= today)
            | col(Application.status).not_in(running)
        )
    if assigned_to_me:
        query = query.where(col(Application.assigned_to) == staff.sub)
    elif unassigned:
        query = query.where(col(Application.assigned_to).is_(None))
    return await keyset_page(session, query, col(Application.id), limit=limit, cursor=cursor)


async def assign(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    assignee: str | None,
    *,
    now: datetime,
) -> Application:
    if Status(application.status) in FINAL:
        raise Conflict(
            f"a closed application cannot be assigned (the state is {application.status})",
            current_state=application.status,
        )
    before = application.assigned_to
    application.assigned_to = assignee or staff.sub
    application.updated_at = now
    await case_history.record(
        session,
        application,
        "assign",
        from_status=Status(application.status),
        actor=staff,
        now=now,
        data={"from": before, "to": application.assigned_to},
    )
    await session.flush()
    return application


async def _move(
    session: AsyncSession,
    application: Application,
    transition: Transition,
    staff: Principal,
    body: TransitionRequest,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    await case_history.move(
        session,
        application,
        transition,
        actor=staff,
        now=now,
        comment=body.comment,
        internal_comment=body.internal_comment,
        data=data,
    )
    await audit.record(
        session,
        staff,
        f"application.{transition.value}",
        f"application:{application.id}",
        service=SERVICE,
        now=now,
        changes={"status": application.status},
    )


async def start_review(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    body: TransitionRequest,
    *,
    now: datetime,
) -> Application:
    await _move(session, application, Transition.START_REVIEW, staff, body, now)
    if application.assigned_to is None:
        application.assigned_to = staff.sub
    await session.flush()
    return application


async def return_for_correction(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    body: ReturnRequest,
    *,
    today: date,
    now: datetime,
) -> Application:
    """差戻し (補正): the fields to correct, a message and a deadline; the clock pauses."""
    if body.deadline <= today:
        raise UnprocessableContent("the deadline must be after today", field="deadline")
    fields = list(dict.fromkeys(body.fields))
    application.correction = {
        "fields": fields,
        "message": body.message,
        "deadline": body.deadline.isoformat(),
    }
    application.correction_deadline = body.deadline
    application.form_at_return = dict(application.form)
    application.returned_at = now
    await _move(
        session,
        application,
        Transition.RETURN,
        staff,
        TransitionRequest(comment=body.message, internal_comment=body.internal_comment),
        now,
        data={"fields": fields, "deadline": body.deadline.isoformat()},
    )
    spec = await applications_service.spec_of(session, application)
    await notices.send(
        session,
        application,
        spec,
        notices.Notice.RETURNED,
        now=now,
        fields=notices.field_titles(spec, fields),
        message=body.message,
        deadline=body.deadline.isoformat(),
    )
    await session.flush()
    return application


async def request_approval(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    body: TransitionRequest,
    *,
    now: datetime,
) -> Application:
    """起案: the reviewer asks a second staff member (role approver) to decide."""
    await _move(session, application, Transition.REQUEST_APPROVAL, staff, body, now)
    application.approval_requested_by = staff.sub
    await session.flush()
    return application


async def send_back(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    body: TransitionRequest,
    *,
    now: datetime,
) -> Application:
    await _move(session, application, Transition.SEND_BACK, staff, body, now)
    application.approval_requested_by = None
    await session.flush()
    return application


def _check_decider(
    application: Application, spec: ProcedureDefinition, staff: Principal, approving: bool
) -> None:
    status = Status(application.status)
    if status is Status.AWAITING_APPROVAL:
        if not staff.has_role("approver"):
            raise Forbidden("deciding an application awaiting approval needs the role approver")
        if staff.sub == application.approval_requested_by:
            raise Forbidden(
                "four eyes: the decision must come from another staff member than the one "
                "who asked for it"
            )
    elif approving and spec.four_eyes and status is Status.IN_REVIEW:
        raise Conflict(
            "this procedure needs a second staff member's approval: request_approval first",
            current_state=status.value,
        )


async def approve(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    body: TransitionRequest,
    *,
    now: datetime,
) -> Application:
    """承認; when a fee is due the application then waits for its payment."""
    spec = await applications_service.spec_of(session, application)
    _check_decider(application, spec, staff, approving=True)
    await _move(session, application, Transition.APPROVE, staff, body, now)
    application.decided_at = now
    if application.fee_yen > 0:
        await case_history.move(
            session,
            application,
            Transition.REQUEST_PAYMENT,
            actor=case_history.SYSTEM,
            now=now,
            data={"amount_yen": application.fee_yen},
        )
        application.payment_status = PaymentStatus.DUE.value
    await _decided(session, application, spec, "approved", body, now)
    if application.fee_yen > 0:
        await notices.send(
            session,
            application,
            spec,
            notices.Notice.PAYMENT_DUE,
            now=now,
            amount=f"{application.fee_yen:,}",
            payment_methods=notices.method_names(
                application, [m.value for m in spec.payment_methods]
            ),
        )
    await session.flush()
    return application


async def _decided(
    session: AsyncSession,
    application: Application,
    spec: ProcedureDefinition,
    outcome: str,
    body: TransitionRequest,
    now: datetime,
) -> None:
    await notices.send(
        session,
        application,
        spec,
        notices.Notice.DECIDED,
        now=now,
        decision=notices.decision(application, outcome),
        comment=body.comment or "",
    )


async def reject(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    body: TransitionRequest,
    *,
    now: datetime,
) -> Application:
    spec = await applications_service.spec_of(session, application)
    _check_decider(application, spec, staff, approving=False)
    await _move(session, application, Transition.REJECT, staff, body, now)
    application.decided_at = now
    await applications_service.release_seat_if_held(session, application)
    await _decided(session, application, spec, "rejected", body, now)
    await session.flush()
    return application


async def complete(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    body: TransitionRequest,
    *,
    now: datetime,
) -> Application:
    """交付・完了 of an approved application that has no fee to wait for."""
    await _move(session, application, Transition.COMPLETE, staff, body, now)
    application.completed_at = now
    spec = await applications_service.spec_of(session, application)
    await notices.send(
        session,
        application,
        spec,
        notices.Notice.COMPLETED,
        now=now,
        documents=await attachments_service.has_issued_documents(session, application.id),
        paid=False,
    )
    await session.flush()
    return application


async def expire_returns(session: AsyncSession, *, today: date, now: datetime) -> int:
    """Returned applications whose correction deadline passed become expired (不受理)."""
    rows = (
        await session.exec(
            select(Application)
            .where(col(Application.status) == Status.RETURNED.value)
            .where(col(Application.correction_deadline) < today)
            .with_for_update(skip_locked=True)
            .limit(500)
        )
    ).all()
    count = 0
    for application in rows:
        await case_history.move(
            session,
            application,
            Transition.EXPIRE,
            actor=case_history.SYSTEM,
            now=now,
            comment="補正期限までに再提出がなかったため、手続を終了しました。",
        )
        application.decided_at = now
        await applications_service.release_seat_if_held(session, application)
        count += 1
    await session.flush()
    return count
