"""Who may use transactional notices: the dependencies of the notification routes.

Templates are managed by staff with the role `admin` or by service clients with the scope
`notifications:manage`; clients with `notifications:send` may also read templates and preview
them. Notifications are sent and read by service clients with `notifications:send`, each
seeing only its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from services.alert_mail.schemas.notifications import (
    NOTIFICATION_ID_PATTERN,
    TEMPLATE_ID_PATTERN,
)
from services.kit.auth import Principal, authenticated, mark_auth, service_client
from services.kit.errors import Forbidden

MANAGE = "notifications:manage"
SEND = "notifications:send"


def _template_access(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    @mark_auth(
        "notifications",
        kinds={"staff", "service"},
        roles=("admin",),
        scopes=scopes,
        note="a staff admin, or a service client holding one of the scopes",
    )
    async def dependency(request: Request) -> Principal:
        principal = await authenticated(request)
        if principal.kind == "staff" and principal.has_role("admin"):
            return principal
        if principal.kind == "service" and any(principal.has_scope(s) for s in scopes):
            return principal
        raise Forbidden(
            f"templates need a staff account with the role admin or the scope {scopes[0]}"
        )

    dependency.__name__ = f"require_{'_or_'.join(s.replace(':', '_') for s in scopes)}"
    return dependency


def _id_path(pattern: str) -> Any:
    return Path(pattern=pattern, max_length=64)


TemplateManager = Annotated[Principal, Depends(_template_access(MANAGE))]
TemplateReader = Annotated[Principal, Depends(_template_access(MANAGE, SEND))]
Sender = Annotated[Principal, service_client(scope=SEND)]
TemplateId = Annotated[str, _id_path(TEMPLATE_ID_PATTERN)]
NotificationId = Annotated[str, _id_path(NOTIFICATION_ID_PATTERN)]
