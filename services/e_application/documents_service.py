"""Documents the city issues back on an application (交付): released records attached by
staff, and the procedure's own document rendered by the service (the 住民票の写し mock, as
HTML and PDF). The applicant reads them once the application is completed."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application import applications_service, case_history
from services.e_application.attachments_service import AttachmentStore, add_issued_file
from services.e_application.domain import documents
from services.e_application.domain.catalogue import IssuedDocument
from services.e_application.domain.lifecycle import Status
from services.e_application.domain.uploads import MediaType
from services.e_application.models import Application, Attachment
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import Conflict

SERVICE = "e_application"
ISSUING_STATES = frozenset({Status.APPROVED, Status.AWAITING_PAYMENT, Status.COMPLETED})


def _check_issuing(application: Application) -> None:
    if Status(application.status) not in ISSUING_STATES:
        raise Conflict(
            f"documents are issued once the application is approved (the state is "
            f"{application.status})",
            current_state=application.status,
        )


async def issue_upload(
    session: AsyncSession,
    store: AttachmentStore,
    application: Application,
    staff: Principal,
    *,
    filename: str | None,
    title: str | None,
    content: bytes,
    now: datetime,
) -> Attachment:
    """A released document (e.g. for 情報公開請求) attached by staff."""
    _check_issuing(application)
    row = await add_issued_file(
        session,
        store,
        application,
        filename=filename,
        title=title,
        content=content,
        issuer=staff,
        now=now,
    )
    await _issued(session, application, staff, [row], now)
    return row


async def issue_rendered(
    session: AsyncSession,
    store: AttachmentStore,
    application: Application,
    staff: Principal,
    *,
    title: str | None,
    today: date,
    now: datetime,
) -> list[Attachment]:
    """The procedure's own document (the 住民票の写し mock) as HTML and as PDF."""
    _check_issuing(application)
    spec = await applications_service.spec_of(session, application)
    if spec.issued_document is not IssuedDocument.RESIDENCE_CERTIFICATE:
        raise Conflict(f"{application.procedure_code} has no document the service renders")
    signer = (application.signature or {}).get("signer")
    document = documents.residence_certificate(
        application.form, signer, reference=application.reference or "", issued_on=today
    )
    name = title or document.title
    rows = []
    for content, media_type in (
        (documents.as_html(document), MediaType.HTML),
        (documents.as_pdf(document), MediaType.PDF),
    ):
        rows.append(
            await add_issued_file(
                session,
                store,
                application,
                filename="juminhyo",
                title=name,
                content=content,
                issuer=staff,
                now=now,
                media_type=media_type,
            )
        )
    await _issued(session, application, staff, rows, now)
    return rows


async def _issued(
    session: AsyncSession,
    application: Application,
    staff: Principal,
    rows: list[Attachment],
    now: datetime,
) -> None:
    await case_history.record(
        session,
        application,
        "issue_document",
        from_status=Status(application.status),
        actor=staff,
        now=now,
        data={"documents": [r.id for r in rows]},
    )
    await audit.record(
        session,
        staff,
        "application.document_issued",
        f"application:{application.id}",
        service=SERVICE,
        now=now,
        changes={"documents": [r.id for r in rows]},
    )
