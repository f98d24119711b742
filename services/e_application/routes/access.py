"""Loading an application for the caller by the one read rule; whoever may not read it gets
a 404, as if it did not exist."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.access_rules import is_owner, may_read
from services.e_application.models import Application
from services.kit.auth import Principal
from services.kit.errors import NotFound


async def readable(session: AsyncSession, application_id: str, principal: Principal) -> Application:
    application = await session.get(Application, application_id)
    if application is None or not may_read(principal, application):
        raise NotFound(f"no application {application_id}")
    return application


def as_staff(principal: Principal, application: Application) -> bool:
    """The caller reads it as staff (audited), not as its applicant."""
    return principal.kind == "staff" and not is_owner(principal, application)
