"""Reference lists a sign-up form needs: categories and districts, paged like every list."""

from __future__ import annotations

from fastapi import APIRouter

from services.alert_mail import reference_service as service
from services.alert_mail.schemas.reference import CategoryRead, DistrictRead
from services.kit.auth import Public
from services.kit.deps import SessionDep
from services.kit.pagination import Cursor, Limit, Page

router = APIRouter(prefix="/v1", tags=["reference"])


@router.get("/categories", response_model=Page[CategoryRead])
async def list_categories(
    session: SessionDep, _: Public, limit: Limit = 100, cursor: Cursor = None
) -> Page[CategoryRead]:
    rows, next_cursor = await service.list_categories(session, limit=limit, cursor=cursor)
    items = [CategoryRead.model_validate(c, from_attributes=True) for c in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/districts", response_model=Page[DistrictRead])
async def list_districts(
    session: SessionDep, _: Public, limit: Limit = 100, cursor: Cursor = None
) -> Page[DistrictRead]:
    rows, next_cursor = await service.list_districts(session, limit=limit, cursor=cursor)
    items = [DistrictRead.model_validate(d, from_attributes=True) for d in rows]
    return Page(items=items, next_cursor=next_cursor)
