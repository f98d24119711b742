"""The audit log for auditors: `GET /audit/events`, `/audit/verify`, `/audit/export`, and the
checkpoint keys at `/audit/keys` (public, so anyone can check an export)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from starlette.responses import StreamingResponse

from gateway.audit_log.schemas import AuditEntry, VerifyResult
from gateway.audit_log.store import AuditLog, parse_stored_event
from services.kit.auth import Principal, Public, staff
from services.kit.errors import ServiceUnavailable, UnprocessableContent
from services.kit.pagination import Cursor, Limit, Page, decode_cursor, fetch_size, page_of

router = APIRouter(prefix="/audit", tags=["audit"])

Auditor = Annotated[Principal, staff(role="auditor", mfa=True)]


def audit_log(request: Request) -> AuditLog:
    log: AuditLog | None = getattr(request.app.state, "audit_log", None)
    if log is None:
        raise ServiceUnavailable("the audit log is not running")
    return log


@router.get("/events", response_model=Page[AuditEntry], summary="Search the audit log")
async def list_events(
    request: Request,
    _: Auditor,
    limit: Limit = 50,
    cursor: Cursor = None,
    actor: Annotated[str | None, Query(max_length=255)] = None,
    action: Annotated[str | None, Query(max_length=128)] = None,
    target: Annotated[str | None, Query(max_length=255)] = None,
    kind: Literal["access", "domain"] | None = None,
    service: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[AwareDatetime | None, Query(description="recorded at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="recorded before")] = None,
) -> Page[AuditEntry]:
    """Newest first. Filters match the copies kept beside each record; what is returned is
    the hashed record, so `GET /audit/verify` vouches for it."""
    before = decode_cursor(cursor, int)
    if before is not None and before < 1:
        raise UnprocessableContent("cursor is not a value returned by this API", field="cursor")
    rows = await audit_log(request).events(
        limit=fetch_size(limit),
        before_seq=before,
        actor=actor,
        action=action,
        target=target,
        kind=kind,
        service=service,
        since=since,
        until=until,
    )
    page, next_cursor = page_of(rows, limit, lambda row: row.seq)
    items = [
        AuditEntry(seq=row.seq, hash=row.hash, event=parse_stored_event(row.event)) for row in page
    ]
    return Page[AuditEntry](items=items, next_cursor=next_cursor)


@router.get("/verify", response_model=VerifyResult, summary="Verify the chain and checkpoints")
async def verify_log(request: Request, _: Auditor) -> VerifyResult:
    report = await audit_log(request).verify()
    return VerifyResult.model_validate(report, from_attributes=True)


@router.get(
    "/export",
    response_class=StreamingResponse,
    summary="The whole log as JSONL (check it with `cityhall audit verify FILE`)",
)
async def export_log(request: Request, _: Auditor) -> StreamingResponse:
    return StreamingResponse(
        audit_log(request).export(),
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="audit-log.jsonl"'},
    )


@router.get("/keys", summary="The public keys that sign checkpoints (JWKS)")
async def audit_keys(request: Request, _: Public) -> dict[str, list[dict[str, str]]]:
    return audit_log(request).jwks()
