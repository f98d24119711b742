"""The staff side of /v1/applications: the department's queue, counter filing (窓口代行),
assignment, the review transitions (four eyes where the procedure says so), issuing
documents back, and re-verifying a stored signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from services.e_application import application_views as views
from services.e_application import (
    applications_service,
    documents_service,
    signing_service,
    workflow_service,
)
from services.e_application.access_rules import is_staff_of
from services.e_application.attachments_service import attachment_read
from services.e_application.domain.catalogue import CODE_PATTERN
from services.e_application.domain.lifecycle import Status
from services.e_application.models import Application
from services.e_application.routes.deps import ApplicationId, StoreDep, TrustDep
from services.e_application.routes.uploads import read_upload, upload_body
from services.e_application.schemas.applications import (
    ApplicationRead,
    AssignRequest,
    AttachmentRead,
    CounterFiling,
    DocumentIssue,
    QueueItem,
    ReturnRequest,
    SignatureCheck,
    StaffApplicationRead,
    TransitionRequest,
)
from services.kit import audit
from services.kit.auth import Principal, Staff, StaffMfa
from services.kit.deps import ClockDep, SessionDep
from services.kit.errors import Conflict, NotFound
from services.kit.idempotency import Idempotency
from services.kit.openapi import CREATED_ELSEWHERE
from services.kit.pagination import Cursor, Limit, Page

queue_router = APIRouter(prefix="/v1/applications", tags=["casework"])
router = APIRouter(prefix="/v1/applications", tags=["casework"])


@queue_router.get("/queue", response_model=Page[QueueItem])
async def department_queue(
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
    status: Status | None = None,
    procedure: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    overdue: Annotated[
        bool | None, Query(description="past the 標準処理期間 while the clock runs")
    ] = None,
    assigned: Annotated[
        str | None, Query(pattern=r"^(me|nobody)$", description="me: assigned to you")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[QueueItem]:
    """Your department's submitted applications, oldest first (no personal data: open one
    to read it, which is audited)."""
    today = views.today_jst(clock.now())
    rows, next_cursor = await workflow_service.queue(
        session,
        principal,
        status=status,
        procedure=procedure,
        overdue=overdue,
        assigned_to_me=assigned == "me",
        unassigned=assigned == "nobody",
        today=today,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[views.queue_item(a, today) for a in rows], next_cursor=next_cursor)


@queue_router.post(
    "/counter",
    response_model=ApplicationRead,
    status_code=201,
    responses={  # its GET is /v1/applications/{id}
        200: {"model": ApplicationRead, "description": "an Idempotency-Key replay"},
        **CREATED_ELSEWHERE,
    },
)
async def file_at_counter(
    body: CounterFiling,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
    trust: TrustDep,
    idem: Idempotency,
) -> Response:
    """窓口代行: enter and submit an application for a resident at the counter (recorded as
    such, with the identity document checked). The answer carries the access code to hand
    to the resident."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    submitted = await applications_service.file_at_counter(
        session, body, principal, now=clock.now(), trust=trust
    )
    view = await views.applicant_view(
        session,
        submitted.application,
        submitted.spec,
        access_code=submitted.access_code,
        fresh=True,
    )
    location = f"/v1/applications/{submitted.application.id}"
    return await idem.complete(201, view, location=location)


async def _case(session: SessionDep, application_id: str, principal: Principal) -> Application:
    return await workflow_service.for_staff(session, application_id, principal, lock=True)


async def _staff_read(
    session: SessionDep, application: Application, clock: ClockDep
) -> StaffApplicationRead:
    spec = await applications_service.spec_of(session, application)
    return await views.staff_view(session, application, spec, views.today_jst(clock.now()))


@router.post("/{application_id}/assign", response_model=StaffApplicationRead)
async def assign_application(
    application_id: ApplicationId,
    body: AssignRequest,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> StaffApplicationRead:
    application = await _case(session, application_id, principal)
    await workflow_service.assign(session, application, principal, body.assignee, now=clock.now())
    return await _staff_read(session, application, clock)


@router.post("/{application_id}/start-review", response_model=StaffApplicationRead)
async def start_review(
    application_id: ApplicationId,
    body: TransitionRequest,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> StaffApplicationRead:
    """受付 → 審査中 (and take the case when nobody has it)."""
    application = await _case(session, application_id, principal)
    await workflow_service.start_review(session, application, principal, body, now=clock.now())
    return await _staff_read(session, application, clock)


@router.post("/{application_id}/return", response_model=StaffApplicationRead)
async def return_application(
    application_id: ApplicationId,
    body: ReturnRequest,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> StaffApplicationRead:
    """差戻し (補正): the fields (JSON pointers) to correct, a message and a deadline. The
    processing clock pauses until the applicant resubmits."""
    application = await _case(session, application_id, principal)
    now = clock.now()
    await workflow_service.return_for_correction(
        session, application, principal, body, today=views.today_jst(now), now=now
    )
    return await _staff_read(session, application, clock)


@router.post("/{application_id}/request-approval", response_model=StaffApplicationRead)
async def request_approval(
    application_id: ApplicationId,
    body: TransitionRequest,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> StaffApplicationRead:
    """起案: ask a second staff member with the role approver to decide (four eyes)."""
    application = await _case(session, application_id, principal)
    await workflow_service.request_approval(session, application, principal, body, now=clock.now())
    return await _staff_read(session, application, clock)


@router.post("/{application_id}/send-back", response_model=StaffApplicationRead)
async def send_back(
    application_id: ApplicationId,
    body: TransitionRequest,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> StaffApplicationRead:
    """決裁待ち → 審査中: the approver sends the case back to its reviewer."""
    application = await _case(session, application_id, principal)
    await workflow_service.send_back(session, application, principal, body, now=clock.now())
    return await _staff_read(session, application, clock)


@router.post("/{application_id}/approve", response_model=StaffApplicationRead)
async def approve(
    application_id: ApplicationId,
    body: TransitionRequest,
    principal: StaffMfa,
    session: SessionDep,
    clock: ClockDep,
) -> StaffApplicationRead:
    """承認. For a four-eyes procedure only from 決裁待ち, by an approver other than the one
    who asked. With a fee due, the application then awaits payment."""
    application = await _case(session, application_id, principal)
    await workflow_service.approve(session, application, principal, body, now=clock.now())
    return await _staff_read(session, application, clock)


@router.post("/{application_id}/reject", response_model=StaffApplicationRead)
async def reject(
    application_id: ApplicationId,
    body: TransitionRequest,
    principal: StaffMfa,
    session: SessionDep,
    clock: ClockDep,
) -> StaffApplicationRead:
    """却下 (from 決裁待ち only by an approver other than the one who asked)."""
    application = await _case(session, application_id, principal)
    await workflow_service.reject(session, application, principal, body, now=clock.now())
    return await _staff_read(session, application, clock)


@router.post("/{application_id}/complete", response_model=StaffApplicationRead)
async def complete(
    application_id: ApplicationId,
    body: TransitionRequest,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> StaffApplicationRead:
    """交付・完了 of an approved application with no fee due."""
    application = await _case(session, application_id, principal)
    await workflow_service.complete(session, application, principal, body, now=clock.now())
    return await _staff_read(session, application, clock)


@router.post(
    "/{application_id}/documents",
    response_model=AttachmentRead,
    status_code=201,
    openapi_extra=upload_body(("title", {"type": "string", "maxLength": 200})),
)
async def issue_document(
    application_id: ApplicationId,
    request: Request,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
    store: StoreDep,
) -> AttachmentRead:
    """Attach a document issued back (e.g. released records of a 情報公開請求); the applicant
    reads it online once the application is completed."""
    upload = await read_upload(request)
    application = await _case(session, application_id, principal)
    row = await documents_service.issue_upload(
        session,
        store,
        application,
        principal,
        filename=upload.filename,
        title=upload.fields.get("title"),
        content=upload.content,
        now=clock.now(),
    )
    return attachment_read(row)


@router.post(
    "/{application_id}/documents/render", response_model=list[AttachmentRead], status_code=201
)
async def render_document(
    application_id: ApplicationId,
    body: DocumentIssue,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
    store: StoreDep,
) -> list[AttachmentRead]:
    """Render the procedure's own document (the 住民票の写し mock) as HTML and PDF."""
    application = await _case(session, application_id, principal)
    now = clock.now()
    rows = await documents_service.issue_rendered(
        session,
        store,
        application,
        principal,
        title=body.title,
        today=views.today_jst(now),
        now=now,
    )
    return [attachment_read(r) for r in rows]


@router.post("/{application_id}/signature/verify", response_model=SignatureCheck)
async def verify_signature(
    application_id: ApplicationId,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
    trust: TrustDep,
) -> SignatureCheck:
    """Re-verify the stored signature now (staff of the department, or an auditor): each
    property on its own, against today's revocation list."""
    application = await session.get(Application, application_id)
    if application is None or not (
        is_staff_of(principal, application.department) or principal.has_role("auditor")
    ):
        raise NotFound(f"no application {application_id}")
    if application.signature is None:
        raise Conflict("this application was not signed")
    now = clock.now()
    result = await signing_service.reverify(session, trust, application, now)
    await audit.record(
        session,
        principal,
        "application.signature_verified",
        f"application:{application.id}",
        service="e_application",
        now=now,
        changes={"valid": result["valid"]},
    )
    return SignatureCheck.model_validate(result)
