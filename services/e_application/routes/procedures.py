"""The procedure catalogue: what a citizen can do online, and at which assurance level."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from services.e_application.models import Procedure
from services.e_application.schemas import Assurance, ProcedureRead
from services.kit.auth import Public
from services.kit.deps import SessionDep
from services.kit.errors import NotFound
from services.kit.pagination import Cursor, Limit, Page, keyset_page

router = APIRouter(prefix="/v1/procedures", tags=["procedures"])


def _read(procedure: Procedure) -> ProcedureRead:
    return ProcedureRead.model_validate(procedure, from_attributes=True)


@router.get("", response_model=Page[ProcedureRead])
async def list_procedures(
    session: SessionDep,
    _: Public,
    department: Annotated[str | None, Query(max_length=64)] = None,
    assurance: Assurance | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ProcedureRead]:
    query = select(Procedure).where(col(Procedure.active))
    if department is not None:
        query = query.where(Procedure.department == department)
    if assurance is not None:
        query = query.where(Procedure.assurance == assurance)
    rows, next_cursor = await keyset_page(
        session, query, col(Procedure.code), limit=limit, cursor=cursor
    )
    return Page(items=[_read(p) for p in rows], next_cursor=next_cursor)


@router.get("/{code}", response_model=ProcedureRead)
async def get_procedure(code: str, session: SessionDep, _: Public) -> ProcedureRead:
    procedure = await session.get(Procedure, code)
    if procedure is None or not procedure.active:
        raise NotFound(f"no procedure with code {code}")
    return _read(procedure)
