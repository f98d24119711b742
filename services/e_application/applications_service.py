"""Use cases of the applicant: drafts, submission (validation, assurance, signature, seat,
reference number), resubmission after a return, withdrawal, and the anonymous status lookup.
Plain functions over a session (no FastAPI); the routes parse and authorize, then call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application import case_history, notices, procedures_service, signing_service
from services.e_application.access_rules import is_owner, read_filter
from services.e_application.attachments_service import AttachmentKind, attachments_of
from services.e_application.domain import fees, forms, references
from services.e_application.domain.business_days import add_business_days, business_days_between
from services.e_application.domain.catalogue import ProcedureDefinition
from services.e_application.domain.lifecycle import (
    EDITABLE,
    LIFECYCLE,
    RELEASES_SEAT,
    Assurance,
    Channel,
    Status,
    Transition,
    meets,
)
from services.e_application.models import Application, ReferenceCounter
from services.e_application.schemas.applications import (
    ApplicationCreate,
    ApplicationUpdate,
    CounterFiling,
    SignatureInput,
)
from services.kit import audit
from services.kit.auth import Principal
from services.kit.clock import JST
from services.kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    UnprocessableContent,
)
from services.kit.ids import new_id
from services.kit.pagination import keyset_page

SERVICE = "e_application"


class SignUpClosed(Conflict):
    slug = "sign-up-closed"
    title = "The sign-up is closed"


class InsufficientAssurance(Forbidden):
    slug = "insufficient-assurance"
    title = "A stronger login is needed"


HINTS_JA = {
    Assurance.ANONYMOUS: "",
    Assurance.EMAIL: "メールアドレスを確認したアカウントでログインしてください。",
    Assurance.PASSWORD: "パスワードでログインしてください。",
    Assurance.JPKI: "マイナンバーカード（公的個人認証）でログインしてください。",
}


@dataclass(frozen=True, slots=True)
class Submitted:
    application: Application
    access_code: str
    spec: ProcedureDefinition


def _not_found(application_id: str) -> NotFound:
    return NotFound(f"no application {application_id}")


async def owned(session: AsyncSession, application_id: str, principal: Principal) -> Application:
    """The caller's own application, as a read; another's is a 404."""
    application = await session.get(Application, application_id)
    if application is None or not is_owner(principal, application):
        raise _not_found(application_id)
    return application


async def owned_for_update(
    session: AsyncSession, application_id: str, principal: Principal
) -> Application:
    """The caller's own application, locked; another's is a 404 (it does not exist for them)."""
    application = await case_history.load_for_update(session, application_id)
    if not is_owner(principal, application):
        raise _not_found(application_id)
    return application


async def spec_of(session: AsyncSession, application: Application) -> ProcedureDefinition:
    row = await procedures_service.get_version(
        session, application.procedure_code, application.procedure_version
    )
    return procedures_service.definition(row)


def validate_form(spec: ProcedureDefinition, answers: Any) -> None:
    errors = forms.form_errors(spec.form_schema, answers)
    if errors:
        raise UnprocessableContent(
            f"the form has {len(errors)} error(s): {errors[0]['pointer']}: {errors[0]['message']}",
            errors=errors,
        )


def require_assurance(spec: ProcedureDefinition, principal: Principal | None) -> None:
    acr = principal.acr if principal else None
    if not meets(acr, spec.assurance):
        if principal is None:
            raise Unauthorized(
                f"this procedure needs a login at assurance level {spec.assurance.value}",
                required_acr=spec.assurance.value,
            )
        jpki = spec.assurance.value == "jpki"
        hint = "log in with your My Number card" if jpki else "log in with your password"
        raise InsufficientAssurance(
            f"this procedure needs assurance level {spec.assurance.value}; your login has "
            f"{acr or 'none'}: {hint}",
            required_acr=spec.assurance.value,
            current_acr=acr,
            hint_ja=HINTS_JA[spec.assurance],
        )


async def create(
    session: AsyncSession,
    body: ApplicationCreate,
    principal: Principal | None,
    *,
    now: datetime,
    trust: signing_service.TrustSource,
) -> tuple[Application, str | None, ProcedureDefinition]:
    """A draft (or, with `submit`, a submission at once); returns it, the access code and
    the procedure version's definition."""
    procedure, row = await procedures_service.current(session, body.procedure_code)
    spec = procedures_service.definition(row)
    if principal is not None and principal.kind not in ("citizen", "business"):
        raise Forbidden("staff file for residents through POST /v1/applications/counter")
    if principal is None and not (spec.assurance.value == "anonymous" and body.submit):
        if spec.assurance.value == "anonymous":
            raise Unauthorized("without an account, send the application with submit: true")
        require_assurance(spec, None)
    if body.representative is not None and not spec.representative_allowed:
        raise UnprocessableContent(
            "this procedure cannot be filed by a representative", field="representative"
        )
    application = Application(
        id=new_id("app"),
        procedure_code=procedure.code,
        procedure_version=row.version,
        department=spec.department,
        status=Status.DRAFT.value,
        owner_sub=principal.sub if principal else None,
        channel=(Channel.REPRESENTATIVE if body.representative else Channel.ONLINE).value,
        representative=body.representative.model_dump() if body.representative else None,
        locale=body.locale,
        contact_email=body.contact_email or (principal.email if principal else None),
        form=body.form,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    await case_history.record(
        session, application, case_history.CREATE, from_status=None, actor=principal, now=now
    )
    await session.flush()
    if not body.submit:
        return application, None, spec
    submitted = await submit(
        session, application, principal, signature=None, now=now, trust=trust, fresh=True
    )
    return submitted.application, submitted.access_code, spec


async def update_draft(
    session: AsyncSession,
    application: Application,
    body: ApplicationUpdate,
    *,
    now: datetime,
) -> Application:
    if Status(application.status) not in EDITABLE:
        raise Conflict(
            f"only a draft or a returned application can be changed (the state is "
            f"{application.status})",
            current_state=application.status,
        )
    if body.form is not None:
        application.form = body.form
    if body.locale is not None:
        application.locale = body.locale
    if body.contact_email is not None:
        application.contact_email = body.contact_email
    if body.representative is not None:
        spec = await spec_of(session, application)
        if not spec.representative_allowed:
            raise UnprocessableContent(
                "this procedure cannot be filed by a representative", field="representative"
            )
        application.representative = body.representative.model_dump()
        application.channel = Channel.REPRESENTATIVE.value
    application.updated_at = now
    await session.flush()
    return application


async def _check_attachments(
    session: AsyncSession, application: Application, spec: ProcedureDefinition, *, fresh: bool
) -> None:
    files = [] if fresh else await attachments_of(session, application.id)
    kinds = [f.kind for f in files]
    if spec.attachments.required and AttachmentKind.DOCUMENT.value not in kinds:
        note = f" ({spec.attachments.note_ja})" if spec.attachments.note_ja else ""
        raise UnprocessableContent(
            f"this procedure needs at least one attached document{note}", field="attachments"
        )
    if (
        application.channel == Channel.REPRESENTATIVE.value
        and AttachmentKind.POWER_OF_ATTORNEY.value not in kinds
    ):
        raise UnprocessableContent(
            "a representative must attach the power of attorney (委任状) before submitting",
            field="attachments",
        )


async def _next_reference(session: AsyncSession, year: int) -> str:
    """The next number of `year`, by a conditional UPDATE … RETURNING on the counter row
    inside the caller's transaction: a rollback gives the number back, so none is skipped."""
    for _ in range(2):
        result = await session.exec(
            update(ReferenceCounter)
            .where(col(ReferenceCounter.year) == year)
            .where(col(ReferenceCounter.last) < references.MAX_PER_YEAR)
            .values(last=col(ReferenceCounter.last) + 1)
            .returning(col(ReferenceCounter.last))
            .execution_options(synchronize_session=False)
        )
        number = result.scalar_one_or_none()
        if number is not None:
            return references.reference(year, int(number))
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await session.exec(
            insert(ReferenceCounter)
            .values(year=year, last=0)
            .on_conflict_do_nothing(index_elements=["year"])
        )
    raise Conflict(f"reference numbers of {year} are exhausted")


async def submit(
    session: AsyncSession,
    application: Application,
    principal: Principal | None,
    *,
    signature: SignatureInput | None,
    now: datetime,
    trust: signing_service.TrustSource,
    at_counter: bool = False,
    fresh: bool = False,
) -> Submitted:
    """`fresh`: the application was created in this transaction (it has no attachments)."""
    spec = await spec_of(session, application)
    LIFECYCLE.require(application.status, Transition.SUBMIT)
    if not at_counter:
        require_assurance(spec, principal)
    if not spec.is_open(now):
        raise SignUpClosed(f"applications for {application.procedure_code} closed")
    validate_form(spec, application.form)
    await _check_attachments(session, application, spec, fresh=fresh)
    if spec.signature_required and not at_counter:
        if signature is None:
            raise UnprocessableContent(
                "this procedure needs a My Number card signature over the application "
                "(GET …/signing-payload, then submit with signature)",
                field="signature",
            )
        application.signature = await signing_service.verify_for_submission(
            session, trust, application, signature, now
        )
    application.holds_seat = await procedures_service.take_seat(session, application.procedure_code)
    today = now.astimezone(JST).date()
    code = references.new_access_code()
    application.access_code_hash = references.hash_code(code)
    application.submitted_at = now
    application.fee_yen = fees.amount(spec.fee, application.form)
    if spec.standard_processing_days:
        application.due_on = add_business_days(today, spec.standard_processing_days)
    # The year's counter row stays locked until the commit: take it last, so concurrent
    # submissions wait on it for as few statements as possible.
    await session.flush()
    application.reference = await _next_reference(session, today.year)
    data: dict[str, Any] = {"reference": application.reference}
    if application.signature:
        data["signer_serial"] = application.signature["serial"]
    await case_history.move(
        session, application, Transition.SUBMIT, actor=principal, now=now, data=data
    )
    await audit.record(
        session,
        principal,
        "application.submitted",
        f"application:{application.id}",
        service=SERVICE,
        now=now,
        changes={"reference": application.reference, "channel": application.channel},
    )
    await notices.send(
        session,
        application,
        spec,
        notices.Notice.RECEIVED,
        now=now,
        received_at=notices.when(now, application.locale),
        fee_required=application.fee_yen > 0,
    )
    return Submitted(application, code, spec)


async def resubmit(
    session: AsyncSession,
    application: Application,
    principal: Principal,
    *,
    signature: SignatureInput | None,
    now: datetime,
    trust: signing_service.TrustSource,
) -> Application:
    """After a return (補正): validated again, the clock resumes (the due date moves by the
    business days it was paused), staff see which answers changed."""
    spec = await spec_of(session, application)
    LIFECYCLE.require(application.status, Transition.RESUBMIT)
    require_assurance(spec, principal)
    validate_form(spec, application.form)
    await _check_attachments(session, application, spec, fresh=False)
    if spec.signature_required and application.channel != Channel.COUNTER.value:
        if signature is None:
            raise UnprocessableContent(
                "a corrected signed filing must be signed again", field="signature"
            )
        application.signature = await signing_service.verify_for_submission(
            session, trust, application, signature, now
        )
    changed = forms.changed_pointers(application.form_at_return or {}, application.form)
    if application.due_on is not None and application.returned_at is not None:
        paused = business_days_between(
            application.returned_at.astimezone(JST).date(), now.astimezone(JST).date()
        )
        application.due_on = add_business_days(application.due_on, paused)
    application.fee_yen = fees.amount(spec.fee, application.form)
    application.correction = None
    application.correction_deadline = None
    await case_history.move(
        session,
        application,
        Transition.RESUBMIT,
        actor=principal,
        now=now,
        data={"changed": changed},
    )
    await session.flush()
    return application


async def withdraw(
    session: AsyncSession,
    application: Application,
    principal: Principal,
    *,
    reason: str | None,
    now: datetime,
) -> Application:
    await case_history.move(
        session, application, Transition.WITHDRAW, actor=principal, now=now, comment=reason
    )
    await release_seat_if_held(session, application)
    application.decided_at = now
    await session.flush()
    return application


async def release_seat_if_held(session: AsyncSession, application: Application) -> None:
    if application.holds_seat and Status(application.status) in RELEASES_SEAT:
        await procedures_service.release_seat(session, application.procedure_code)
        application.holds_seat = False


async def file_at_counter(
    session: AsyncSession,
    body: CounterFiling,
    staff: Principal,
    *,
    now: datetime,
    trust: signing_service.TrustSource,
) -> Submitted:
    """窓口代行: staff of the procedure's department enter and submit it for the resident,
    whose identity they checked in person (recorded, with the document they saw)."""
    procedure, row = await procedures_service.current(session, body.procedure_code)
    spec = procedures_service.definition(row)
    if staff.department != spec.department and "admin" not in staff.roles:
        raise NotFound(f"no procedure with code {body.procedure_code}")
    application = Application(
        id=new_id("app"),
        procedure_code=procedure.code,
        procedure_version=row.version,
        department=spec.department,
        status=Status.DRAFT.value,
        owner_sub=body.applicant_sub,
        channel=Channel.COUNTER.value,
        filed_by=staff.sub,
        locale=body.locale,
        contact_email=body.contact_email,
        form=body.form,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    await session.flush()
    await case_history.record(
        session,
        application,
        case_history.CREATE,
        from_status=None,
        actor=staff,
        now=now,
        comment=body.comment,
        data={"channel": "counter", "identity_document": body.identity_document},
    )
    return await submit(
        session,
        application,
        staff,
        signature=None,
        now=now,
        trust=trust,
        at_counter=True,
        fresh=True,
    )


async def list_mine(
    session: AsyncSession,
    principal: Principal,
    *,
    status: Status | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Application], str | None]:
    query = select(Application).where(read_filter(principal))
    if status is not None:
        query = query.where(col(Application.status) == status.value)
    return await keyset_page(session, query, col(Application.id), limit=limit, cursor=cursor)
