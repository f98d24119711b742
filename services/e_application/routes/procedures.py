"""The procedure catalogue: what a resident can do online, and at which assurance level."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.e_application import procedures_service as service
from services.e_application.domain.catalogue import CODE_PATTERN, DEPARTMENT_PATTERN
from services.e_application.domain.lifecycle import Assurance
from services.e_application.schemas.procedures import (
    ProcedureRead,
    ProcedureSummary,
    ProcedureVersionCreate,
)
from services.kit import audit
from services.kit.auth import Public, Staff
from services.kit.deps import ClockDep, SessionDep
from services.kit.errors import Forbidden
from services.kit.pagination import Cursor, Limit, Page

router = APIRouter(prefix="/v1/procedures", tags=["procedures"])

Code = Annotated[str, Path(pattern=CODE_PATTERN, max_length=64)]


@router.get("", response_model=Page[ProcedureSummary])
async def list_procedures(
    session: SessionDep,
    _: Public,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="text in ja or en")
    ] = None,
    department: Annotated[str | None, Query(pattern=DEPARTMENT_PATTERN)] = None,
    assurance: Assurance | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ProcedureSummary]:
    """The catalogue in code order; `q` searches names and descriptions (ja and en)."""
    items, next_cursor = await service.list_procedures(
        session, q=q, department=department, assurance=assurance, limit=limit, cursor=cursor
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{code}", response_model=ProcedureRead)
async def get_procedure(code: Code, session: SessionDep, _: Public) -> ProcedureRead:
    """The current version: its form (JSON Schema), fee, attachments policy and rules."""
    return service.read(*await service.current(session, code))


@router.get("/{code}/versions/{version}", response_model=ProcedureRead)
async def get_procedure_version(
    code: Code,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
    session: SessionDep,
    _: Public,
) -> ProcedureRead:
    """An earlier version, as applications filed against it saw it."""
    procedure, _current = await service.current(session, code)
    row = await service.get_version(session, code, version)
    return service.read(procedure, row).model_copy(update={"version": version})


@router.post("/{code}/versions", response_model=ProcedureRead, status_code=201)
async def publish_version(
    code: Code,
    body: ProcedureVersionCreate,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> ProcedureRead:
    """Publishes an edit as a new version (staff of the procedure's department with the role
    `approver`, or an admin). Applications already filed keep their version."""
    if not principal.has_role("approver"):
        raise Forbidden("publishing a procedure needs the role approver")
    now = clock.now()
    procedure, row = await service.publish_edit(
        session,
        code,
        body,
        editor=principal.sub,
        editor_department=principal.department,
        is_admin=principal.has_role("admin"),
        now=now,
    )
    await audit.record(
        session,
        principal,
        "procedure.published",
        f"procedure:{code}",
        service="e_application",
        now=now,
        changes={"version": row.version},
    )
    response.headers["Location"] = f"/v1/procedures/{code}/versions/{row.version}"
    return service.read(procedure, row)
