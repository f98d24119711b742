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
from services.kit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

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
    query = select(Procedure).where(col(Procedure.active)).order_by(col(Procedure.code))
    if department is not None:
        query = query.where(Procedure.department == department)
    if assurance is not None:
        query = query.where(Procedure.assurance == assurance)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(col(Procedure.code) > str(after))
    rows = list((await session.exec(query.limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[_read(p) for p in rows],
        next_cursor=encode_cursor(rows[-1].code) if more and rows else None,
    )


@router.get("/{code}", response_model=ProcedureRead)
async def get_procedure(code: str, session: SessionDep, _: Public) -> ProcedureRead:
    procedure = await session.get(Procedure, code)
    if procedure is None or not procedure.active:
        raise NotFound(f"no procedure with code {code}")
    return _read(procedure)
