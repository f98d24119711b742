"""Settlement per JST day (JSON or CSV) and the reconciliation discrepancies."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from services.kit.deps import SessionDep
from services.payments_mock import settlements_service as service
from services.payments_mock.deps import Reader
from services.payments_mock.domain.calendar import check_era
from services.payments_mock.schemas import DiscrepancyReport, SettlementReport

router = APIRouter(prefix="/v1/settlements", tags=["settlements"])


@router.get(
    "",
    response_model=SettlementReport,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def settlement(
    request: Request,
    principal: Reader,
    session: SessionDep,
    day: Annotated[date, Query(alias="date", description="the JST day, YYYY-MM-DD")],
    format: Literal["json", "csv"] | None = None,
) -> Response:
    """What was paid (速報, by the register time) and settled (確報) that JST day, by channel
    and chain (or Pay-easy channel, card brand), with refunds and totals. CSV with
    `format=csv` or `Accept: text/csv`."""
    check_era(day, "date")
    report = await service.settlement(session, principal.sub, day)
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        return Response(
            service.settlement_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="settlement-{day.isoformat()}.csv"'
            },
        )
    return Response(report.model_dump_json(), media_type="application/json")


@router.get("/discrepancies", response_model=DiscrepancyReport)
async def discrepancies(principal: Reader, session: SessionDep) -> DiscrepancyReport:
    """Late payments (paid before the deadline, notice after expiry) and refunds whose bank
    transfer is still pending."""
    return await service.discrepancies(session, principal.sub)
