"""`GET /internal/revocations`: the revocation list, for the services' token verifiers
(services.kit.revocation.RevocationFeed polls it about once a second)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from gateway.idp import revocation_list
from gateway.idp.deps import IdpDep
from services.kit.auth import Principal, service_client
from services.kit.revocation import REVOCATIONS_PATH

router = APIRouter(tags=["internal"])


class RevocationFeedPage(BaseModel):
    entries: list[dict[str, Any]]
    """Entries after `after`, and those recorded in the last seconds (applying one twice is
    harmless); each `{seq, kind, value, expires_at, issued_before}`."""


@router.get(
    REVOCATIONS_PATH,
    response_model=RevocationFeedPage,
    summary="Revoked tokens, sessions and accounts (for the services' token verifiers)",
)
async def revocations(
    idp: IdpDep,
    _: Annotated[Principal, service_client()],
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> RevocationFeedPage:
    async with idp.ctx.db.session(write=False) as session:
        entries = await revocation_list.entries_after(session, after)
    return RevocationFeedPage(entries=[entry.as_json() for entry in entries])
