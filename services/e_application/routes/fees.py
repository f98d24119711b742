"""Paying an approved application's fee: the applicant picks a method and gets the slip,
Pay-easy numbers or a card charge; payments_mock's signed webhooks come in at the kit's
/webhooks/payments."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.e_application import application_views as views
from services.e_application import applications_service, fees_service
from services.e_application.routes.deps import ApplicationId
from services.e_application.schemas.applications import ApplicationRead, PaymentStart
from services.kit.auth import Citizen
from services.kit.deps import ClockDep, get_db
from services.kit.payments import Payments, PaymentsIntegration

router = APIRouter(prefix="/v1/applications", tags=["fees"])

PAYMENTS = PaymentsIntegration(
    on_event=fees_service.on_payment_event,
    pending=fees_service.pending_payment_ids,
    description="cityhall e_application fees (電子申請の手数料)",
)


@router.post("/{application_id}/payments", response_model=ApplicationRead, status_code=201)
async def start_payment(
    application_id: ApplicationId,
    body: PaymentStart,
    principal: Citizen,
    request: Request,
    clock: ClockDep,
    payments: Payments,
) -> ApplicationRead:
    """Pay the fee: a konbini slip (払込票番号 per chain), Pay-easy numbers, or a test card.
    The instructions show on the application; when a slip expires unpaid, the fee is due
    again and this makes a new one. Amounts are fictional."""
    # Three steps, so that no write transaction waits on payments_mock (on SQLite it would
    # hold the service's one write lock): decide in a read, call, then record.
    db = get_db(request)
    async with db.session(write=False) as session:
        application = await applications_service.owned(session, application_id, principal)
        plan = await fees_service.plan_payment(
            session, application, method=body.method, card_number=body.card_number
        )
    payment, canceled = await fees_service.make_payment(payments, plan)
    async with db.session() as session:
        application = await applications_service.owned_for_update(
            session, application_id, principal
        )
        await fees_service.record_payment(
            session, application, plan, payment, canceled, now=clock.now()
        )
        spec = await applications_service.spec_of(session, application)
        return await views.applicant_view(session, application, spec)
