"""Loading an application for the caller: its owner, or staff of its department (whose read
of personal data is audited); anyone else gets a 404."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.access_rules import is_owner, is_staff_of
from services.e_application.models import Application
from services.kit.auth import Principal
from services.kit.errors import NotFound


async def readable(session: AsyncSession, application_id: str, principal: Principal) -> Application:
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    if is_owner(principal, application):
        return application
    if is_staff_of(principal, application.department) and application.status != "draft":
        return application
    raise NotFound(f"no application {application_id}")


def as_staff(principal: Principal, application: Application) -> bool:
    return not is_owner(principal, application) and principal.kind == "staff"
