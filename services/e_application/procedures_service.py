"""Use cases of the catalogue: list and read procedures, publish a new version, hand out and
give back the seats of an event sign-up. Plain functions over a session (no FastAPI)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, or_, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.domain.catalogue import ProcedureDefinition
from services.e_application.domain.fees import FixedFee, PerCopyFee
from services.e_application.domain.lifecycle import Assurance
from services.e_application.models import Procedure, ProcedureVersion
from services.e_application.schemas.procedures import ProcedureRead, ProcedureSummary
from services.kit.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from services.kit.pagination import keyset_page

SEED_PUBLISHER = "seed"


class SignUpFull(Conflict):
    slug = "sign-up-full"
    title = "The sign-up is full"


def digest_of(definition: ProcedureDefinition) -> str:
    text = json.dumps(definition.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=512)
def _parse(code: str, version: int, digest: str, text: str) -> ProcedureDefinition:
    return ProcedureDefinition.model_validate_json(text)


def definition(row: ProcedureVersion) -> ProcedureDefinition:
    """The parsed definition of a stored version (parsed once per process)."""
    text = json.dumps(row.definition, sort_keys=True, ensure_ascii=False)
    return _parse(row.code, row.version, row.digest, text)


async def get_version(session: AsyncSession, code: str, version: int) -> ProcedureVersion:
    row = await session.get(ProcedureVersion, (code, version))
    if row is None:
        raise NotFound(f"procedure {code} has no version {version}")
    return row


async def current(session: AsyncSession, code: str) -> tuple[Procedure, ProcedureVersion]:
    procedure = await session.get(Procedure, code)
    if procedure is None or not procedure.active:
        raise NotFound(f"no procedure with code {code}")
    return procedure, await get_version(session, code, procedure.version)


def _fee_yen(spec: ProcedureDefinition) -> int | None:
    return spec.fee.amount_yen if isinstance(spec.fee, FixedFee | PerCopyFee) else None


def summary(procedure: Procedure, spec: ProcedureDefinition) -> ProcedureSummary:
    seats_left = (
        max(procedure.capacity - procedure.taken, 0) if procedure.capacity is not None else None
    )
    return ProcedureSummary(
        code=procedure.code,
        version=procedure.version,
        name_ja=spec.name_ja,
        name_en=spec.name_en,
        description_ja=spec.description_ja,
        description_en=spec.description_en,
        department=spec.department,
        category_ja=spec.category_ja,
        assurance=spec.assurance,
        signature_required=spec.signature_required,
        fee_yen=_fee_yen(spec),
        has_fee=spec.fee is not None,
        standard_processing_days=spec.standard_processing_days,
        capacity=spec.capacity,
        seats_left=seats_left,
        deadline=spec.deadline,
    )


def read(procedure: Procedure, row: ProcedureVersion) -> ProcedureRead:
    spec = definition(row)
    return ProcedureRead(
        **summary(procedure, spec).model_dump(),
        form_schema=spec.form_schema,
        prefill=spec.prefill,
        fee=spec.fee,
        payment_methods=spec.payment_methods,
        attachments=spec.attachments,
        four_eyes=spec.four_eyes,
        representative_allowed=spec.representative_allowed,
        issued_document=spec.issued_document,
        published_at=row.published_at,
        published_by=row.published_by,
    )


async def list_procedures(
    session: AsyncSession,
    *,
    q: str | None,
    department: str | None,
    assurance: Assurance | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ProcedureSummary], str | None]:
    query = select(Procedure).where(col(Procedure.active))
    if department is not None:
        query = query.where(col(Procedure.department) == department)
    if assurance is not None:
        query = query.where(col(Procedure.assurance) == assurance.value)
    if q:
        needle = q.strip().lower()
        query = query.where(
            or_(
                col(Procedure.name_ja).contains(needle, autoescape=True),
                col(Procedure.description_ja).contains(needle, autoescape=True),
                func.lower(col(Procedure.name_en)).contains(needle, autoescape=True),
                func.lower(col(Procedure.description_en)).contains(needle, autoescape=True),
            )
        )
    rows, next_cursor = await keyset_page(
        session, query, col(Procedure.code), limit=limit, cursor=cursor
    )
    versions = await _versions(session, [(p.code, p.version) for p in rows])
    return [summary(p, definition(versions[(p.code, p.version)])) for p in rows], next_cursor


async def _versions(
    session: AsyncSession, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], ProcedureVersion]:
    wanted = list(keys)
    if not wanted:
        return {}
    result = await session.exec(
        select(ProcedureVersion).where(
            tuple_(col(ProcedureVersion.code), col(ProcedureVersion.version)).in_(wanted)
        )
    )
    return {(v.code, v.version): v for v in result.all()}


async def publish(
    session: AsyncSession,
    code: str,
    spec: ProcedureDefinition,
    *,
    publisher: str,
    now: datetime,
) -> tuple[Procedure, ProcedureVersion]:
    """Publishes `spec` as the next version of `code` (the first one creates the procedure).
    Two publishers racing for the same version number: one wins, the other gets a 409 from
    the primary key."""
    procedure = await session.get(Procedure, code, with_for_update=True)
    number = 1 if procedure is None else procedure.version + 1
    row = ProcedureVersion(
        code=code,
        version=number,
        definition=spec.model_dump(mode="json"),
        digest=digest_of(spec),
        published_at=now,
        published_by=publisher,
    )
    session.add(row)
    values: dict[str, Any] = {
        "version": number,
        "name_ja": spec.name_ja,
        "name_en": spec.name_en,
        "description_ja": spec.description_ja,
        "description_en": spec.description_en,
        "department": spec.department,
        "category_ja": spec.category_ja,
        "assurance": spec.assurance.value,
        "fee_yen": _fee_yen(spec),
        "standard_processing_days": spec.standard_processing_days,
        "capacity": spec.capacity,
        "active": True,
    }
    if procedure is None:
        procedure = Procedure(code=code, taken=0, **values)
        session.add(procedure)
    else:
        for name, value in values.items():
            setattr(procedure, name, value)
    await session.flush()
    return procedure, row


async def publish_edit(
    session: AsyncSession,
    code: str,
    spec: ProcedureDefinition,
    *,
    editor: str,
    editor_department: str | None,
    is_admin: bool,
    now: datetime,
) -> tuple[Procedure, ProcedureVersion]:
    """A staff edit: only the procedure's department (or an admin) may publish, and a
    department may not hand its procedure to another."""
    procedure, _ = await current(session, code)
    if not is_admin and procedure.department != editor_department:
        raise NotFound(f"no procedure with code {code}")
    if not is_admin and spec.department != procedure.department:
        raise Forbidden("only an admin may move a procedure to another department")
    return await publish(session, code, spec, publisher=editor, now=now)


async def seed_catalogue(
    session: AsyncSession, items: Iterable[Mapping[str, Any]], *, now: datetime
) -> int:
    """Publishes each item whose definition changed (a new version), leaves the others."""
    count = 0
    for item in items:
        fields = {k: v for k, v in item.items() if k != "code"}
        try:
            spec = ProcedureDefinition.model_validate(fields)
        except ValueError as exc:
            raise UnprocessableContent(f"procedure {item.get('code')}: {exc}") from exc
        code = str(item["code"])
        existing = await session.get(Procedure, code)
        if existing is not None:
            latest = await get_version(session, code, existing.version)
            if latest.digest == digest_of(spec):
                count += 1
                continue
        await publish(session, code, spec, publisher=SEED_PUBLISHER, now=now)
        count += 1
    return count


async def take_seat(session: AsyncSession, code: str) -> bool:
    """One seat of a sign-up, by a conditional UPDATE (never more than the capacity, however
    many submit at once). False when the procedure has no capacity limit."""
    procedure = await session.get(Procedure, code)
    if procedure is None or procedure.capacity is None:
        return False
    result = await session.exec(
        update(Procedure)
        .where(col(Procedure.code) == code)
        .where(col(Procedure.capacity).is_not(None))
        .where(col(Procedure.taken) < col(Procedure.capacity))
        .values(taken=col(Procedure.taken) + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise SignUpFull(f"all {procedure.capacity} places of {code} are taken")
    return True


async def release_seat(session: AsyncSession, code: str) -> None:
    await session.exec(
        update(Procedure)
        .where(col(Procedure.code) == code)
        .where(col(Procedure.taken) > 0)
        .values(taken=col(Procedure.taken) - 1)
        .execution_options(synchronize_session=False)
    )
