"""Reference lists a sign-up form needs: categories and districts."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from services.alert_mail.models import Category, District
from services.alert_mail.schemas.reference import CategoryRead, DistrictRead
from services.kit.auth import Public
from services.kit.deps import SessionDep

router = APIRouter(prefix="/v1", tags=["reference"])


@router.get("/categories", response_model=list[CategoryRead])
async def list_categories(session: SessionDep, _: Public) -> list[CategoryRead]:
    query = select(Category).order_by(col(Category.position), col(Category.code))
    rows = (await session.exec(query)).all()
    return [CategoryRead.model_validate(c, from_attributes=True) for c in rows]


@router.get("/districts", response_model=list[DistrictRead])
async def list_districts(session: SessionDep, _: Public) -> list[DistrictRead]:
    query = select(District).order_by(col(District.position), col(District.code))
    rows = (await session.exec(query)).all()
    return [DistrictRead.model_validate(d, from_attributes=True) for d in rows]
