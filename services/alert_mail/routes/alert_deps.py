"""Dependencies of the alert and feed routes: who may compose, approve and publish at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request

from services.alert_mail.domain.alert_rules import COMPOSERS
from services.alert_mail.schemas.alerts import ALERT_ID_PATTERN
from services.alert_mail.settings import Settings
from services.kit.auth import Principal, authenticated, mark_auth, staff
from services.kit.deps import app_settings
from services.kit.errors import Forbidden


def _staff_with_any_role(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    @mark_auth("staff", kinds={"staff"}, roles=roles)
    async def dependency(request: Request) -> Principal:
        principal = await authenticated(request)
        if principal.kind != "staff" and "admin" not in principal.roles:
            raise Forbidden("this endpoint is for staff accounts")
        if not any(principal.has_role(role) for role in roles):
            raise Forbidden(f"this endpoint needs one of the roles {', '.join(roles)}")
        return principal

    dependency.__name__ = "require_" + "_or_".join(roles)
    return dependency


Composer = Annotated[Principal, Depends(_staff_with_any_role(*COMPOSERS))]
Approver = Annotated[Principal, staff(role="approver", mfa=True)]
EmergencyPublisher = Annotated[Principal, staff(role="emergency_publisher", mfa=True)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
AlertIdPath = Annotated[str, Path(pattern=ALERT_ID_PATTERN, max_length=64)]
