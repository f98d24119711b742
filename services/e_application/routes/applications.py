"""The applicant's side of /v1/applications: drafts, submission, resubmission, withdrawal,
attachments, history, and the status lookup by reference and access code."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from sqlmodel import col, select
from starlette.responses import Response

from services.e_application import application_views as views
from services.e_application import (
    applications_service,
    attachments_service,
    signing_service,
    status_lookup_service,
    workflow_service,
)
from services.e_application.attachments_service import AttachmentKind
from services.e_application.domain.lifecycle import LABELS_JA, Status
from services.e_application.domain.references import REFERENCE_PATTERN
from services.e_application.domain.signatures import payload_digest
from services.e_application.models import ApplicationEvent
from services.e_application.routes.access import as_staff, readable
from services.e_application.routes.deps import (
    ApplicationId,
    AttachmentId,
    AttemptsDep,
    StoreDep,
    TrustDep,
    client_key,
)
from services.e_application.routes.uploads import read_upload, upload_body
from services.e_application.schemas.applications import (
    ApplicationCreate,
    ApplicationRead,
    ApplicationUpdate,
    AttachmentRead,
    CertificateInput,
    EventRead,
    MineItem,
    SigningPayload,
    StaffApplicationRead,
    StaffEventRead,
    StatusRead,
    SubmitRequest,
    WithdrawRequest,
)
from services.kit.auth import AnyPrincipal, Citizen, OptionalPrincipal, Public
from services.kit.deps import AuditedReadSession, ClockDep, SessionDep
from services.kit.errors import NotFound, UnprocessableContent
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit, Page, keyset_page
from services.kit.problems import problem_response

router = APIRouter(prefix="/v1/applications", tags=["applications"])

READ_MODEL = StaffApplicationRead | ApplicationRead


@router.post(
    "",
    response_model=ApplicationRead,
    status_code=201,
    responses={200: {"model": ApplicationRead, "description": "an Idempotency-Key replay"}},
)
async def create_application(
    body: ApplicationCreate,
    principal: OptionalPrincipal,
    session: SessionDep,
    clock: ClockDep,
    trust: TrustDep,
    idem: Idempotency,
) -> Response:
    """A draft to fill in and resume later, or with `submit: true` a submission at once (the
    way for an anonymous procedure without an account). A submission answers with its
    reference (到達番号) and, once only, the access code (問合せ番号) for the status lookup."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    application, code, spec = await applications_service.create(
        session, body, principal, now=clock.now(), trust=trust
    )
    view = await views.applicant_view(session, application, spec, access_code=code, fresh=True)
    return await idem.complete(201, view, location=f"/v1/applications/{application.id}")


@router.get("/mine", response_model=Page[MineItem])
async def my_applications(
    principal: Citizen,
    session: SessionDep,
    status: Status | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[MineItem]:
    """Your own applications (drafts too), oldest first."""
    rows, next_cursor = await applications_service.list_mine(
        session, principal, status=status, limit=limit, cursor=cursor
    )
    return Page(items=[views.mine_item(a) for a in rows], next_cursor=next_cursor)


@router.get("/status", response_model=StatusRead, responses={404: {}, 429: {}})
async def application_status(
    request: Request,
    session: AuditedReadSession,
    clock: ClockDep,
    attempts: AttemptsDep,
    _: Public,
    reference: Annotated[str, Query(pattern=REFERENCE_PATTERN)],
    access_code: Annotated[str, Query(min_length=12, max_length=20)],
) -> Response | StatusRead:
    """The status of a submission, by its reference and access code, without an account.
    Says nothing else; unknown references and wrong codes look the same, and wrong codes
    lock the reference for a while."""
    application = await status_lookup_service.lookup_status(
        session,
        reference,
        access_code,
        client=client_key(request),
        attempts=attempts,
        now=clock.now(),
    )
    if application is None:
        return problem_response(404, detail="no application with this reference and access code")
    status = Status(application.status)
    return StatusRead(
        reference=reference,
        status=status,
        status_label_ja=LABELS_JA[status],
        updated_at=application.updated_at,
    )


@router.get("/{application_id}", response_model=READ_MODEL)
async def get_application(
    application_id: ApplicationId,
    principal: AnyPrincipal,
    session: AuditedReadSession,
    clock: ClockDep,
) -> StaffApplicationRead | ApplicationRead:
    """The applicant sees their own; staff of the department see the case (and the read is
    audited as `application.viewed`)."""
    application = await readable(session, application_id, principal)
    spec = await applications_service.spec_of(session, application)
    if as_staff(principal, application):
        now = clock.now()
        await workflow_service.record_view(session, principal, application, now)
        return await views.staff_view(session, application, spec, views.today_jst(now))
    return await views.applicant_view(session, application, spec)


@router.patch("/{application_id}", response_model=ApplicationRead)
async def update_application(
    application_id: ApplicationId,
    body: ApplicationUpdate,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
) -> ApplicationRead:
    """Save a draft (or a returned application's corrections); resume it any time."""
    application = await applications_service.owned_for_update(session, application_id, principal)
    await applications_service.update_draft(session, application, body, now=clock.now())
    spec = await applications_service.spec_of(session, application)
    return await views.applicant_view(session, application, spec)


@router.post("/{application_id}/prefill", response_model=ApplicationRead)
async def prefill_from_card(
    application_id: ApplicationId,
    body: CertificateInput,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
) -> ApplicationRead:
    """券面事項入力補助: fills the form's name, address, birth date… from the signing
    certificate of your My Number card."""
    application = await applications_service.owned_for_update(session, application_id, principal)
    spec = await applications_service.spec_of(session, application)
    if not spec.prefill:
        raise UnprocessableContent(
            "this procedure takes no answers from the card", field="certificate"
        )
    answers = signing_service.prefill(spec.prefill, body.certificate)
    await applications_service.update_draft(
        session,
        application,
        ApplicationUpdate(form={**application.form, **answers}),
        now=clock.now(),
    )
    return await views.applicant_view(session, application, spec)


@router.get("/{application_id}/signing-payload", response_model=SigningPayload)
async def signing_payload(
    application_id: ApplicationId, principal: Citizen, session: SessionDep
) -> SigningPayload:
    """The canonical application (form and attachment digests) for the card to sign: sign
    the UTF-8 bytes of `payload` with ECDSA-SHA256 and send the signature with submit."""
    application = await readable(session, application_id, principal)
    payload = await signing_service.payload_of(session, application)
    return SigningPayload(
        application_id=application.id,
        payload=payload.decode("utf-8"),
        sha256=payload_digest(payload),
    )


@router.post("/{application_id}/submit", response_model=ApplicationRead)
async def submit_application(
    application_id: ApplicationId,
    body: SubmitRequest,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    trust: TrustDep,
) -> ApplicationRead:
    """受付: the form is validated against the procedure's schema (errors name the JSON
    pointer), the login's assurance must meet the procedure's (403 says what is needed), a
    signed procedure needs the card's signature over the signing payload."""
    application = await applications_service.owned_for_update(session, application_id, principal)
    submitted = await applications_service.submit(
        session, application, principal, signature=body.signature, now=clock.now(), trust=trust
    )
    spec = await applications_service.spec_of(session, application)
    return await views.applicant_view(
        session, submitted.application, spec, access_code=submitted.access_code
    )


@router.post("/{application_id}/resubmit", response_model=ApplicationRead)
async def resubmit_application(
    application_id: ApplicationId,
    body: SubmitRequest,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    trust: TrustDep,
) -> ApplicationRead:
    """After a return (差戻し): send the corrected application back to review."""
    application = await applications_service.owned_for_update(session, application_id, principal)
    await applications_service.resubmit(
        session, application, principal, signature=body.signature, now=clock.now(), trust=trust
    )
    spec = await applications_service.spec_of(session, application)
    return await views.applicant_view(session, application, spec)


@router.post("/{application_id}/withdraw", response_model=ApplicationRead)
async def withdraw_application(
    application_id: ApplicationId,
    body: WithdrawRequest,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
) -> ApplicationRead:
    """取下げ, before a decision."""
    application = await applications_service.owned_for_update(session, application_id, principal)
    await applications_service.withdraw(
        session, application, principal, reason=body.reason, now=clock.now()
    )
    spec = await applications_service.spec_of(session, application)
    return await views.applicant_view(session, application, spec)


@router.get("/{application_id}/history", response_model=Page[StaffEventRead | EventRead])
async def application_history(
    application_id: ApplicationId,
    principal: AnyPrincipal,
    session: AuditedReadSession,
    clock: ClockDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[StaffEventRead | EventRead]:
    """The append-only history: every transition with its time and comment (staff also see
    who and the internal comments)."""
    application = await readable(session, application_id, principal)
    staff = as_staff(principal, application)
    if staff:
        await workflow_service.record_view(session, principal, application, clock.now())
    query = select(ApplicationEvent).where(col(ApplicationEvent.application_id) == application.id)
    rows, next_cursor = await keyset_page(
        session, query, col(ApplicationEvent.seq), limit=limit, cursor=cursor
    )
    read = views.staff_event_read if staff else views.event_read
    return Page(items=[read(e) for e in rows], next_cursor=next_cursor)


@router.post(
    "/{application_id}/attachments",
    response_model=AttachmentRead,
    status_code=201,
    openapi_extra=upload_body(
        ("kind", {"type": "string", "enum": ["document", "power_of_attorney"]})
    ),
)
async def add_attachment(
    application_id: ApplicationId,
    request: Request,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    store: StoreDep,
    response: Response,
) -> AttachmentRead:
    """A file (multipart part `file`; `kind` document or power_of_attorney for a 委任状). The
    type is judged from the content; size and types follow the procedure's policy."""
    upload = await read_upload(request)
    try:
        kind = AttachmentKind(upload.fields.get("kind", "document"))
    except ValueError:
        raise UnprocessableContent("kind is document or power_of_attorney", field="kind") from None
    if kind not in attachments_service.APPLICANT_KINDS:
        raise UnprocessableContent("kind is document or power_of_attorney", field="kind")
    application = await applications_service.owned_for_update(session, application_id, principal)
    spec = await applications_service.spec_of(session, application)
    row = await attachments_service.add_applicant_file(
        session,
        store,
        application,
        spec,
        kind=kind,
        filename=upload.filename,
        content=upload.content,
        uploader=principal,
        now=clock.now(),
    )
    response.headers["Location"] = f"/v1/applications/{application.id}/attachments/{row.id}"
    return attachments_service.attachment_read(row)


@router.get(
    "/{application_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def read_attachment(
    application_id: ApplicationId,
    attachment_id: AttachmentId,
    principal: AnyPrincipal,
    session: AuditedReadSession,
    clock: ClockDep,
    store: StoreDep,
) -> Response:
    """The file, to its applicant and to the department's staff only. Issued documents reach
    the applicant once the application is completed (交付)."""
    application = await readable(session, application_id, principal)
    row = await attachments_service.get_attachment(session, application.id, attachment_id)
    staff = as_staff(principal, application)
    if (
        not staff
        and row.kind == AttachmentKind.ISSUED
        and Status(application.status) not in views.DOCUMENTS_RELEASED
    ):
        raise NotFound(f"no attachment {attachment_id}")
    if staff:
        await workflow_service.record_view(session, principal, application, clock.now())
    content = await store.get(row.storage_key)
    disposition = "inline" if row.kind == AttachmentKind.ISSUED else "attachment"

    return Response(
        content,
        media_type=row.media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        },
    )


@router.delete("/{application_id}/attachments/{attachment_id}", status_code=204)
async def delete_attachment(
    application_id: ApplicationId,
    attachment_id: AttachmentId,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    application = await applications_service.owned_for_update(session, application_id, principal)
    await attachments_service.remove_applicant_file(
        session, application, attachment_id, clock.now()
    )
    return Response(status_code=204)
