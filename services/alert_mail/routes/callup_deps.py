"""What the call-up routes share: id formats, who may send, the audited read session."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request

from services.alert_mail.domain.callup_access import SENDER_ROLES
from services.alert_mail.settings import Settings
from services.kit.auth import Principal, authenticated, mark_auth, staff
from services.kit.deps import app_settings
from services.kit.errors import Forbidden

ULID = "[0-9A-HJKMNP-TV-Z]{26}"
GroupId = Annotated[str, Path(pattern=f"^grp_{ULID}$", max_length=64)]
MemberId = Annotated[str, Path(pattern=f"^mem_{ULID}$", max_length=64)]
CallupId = Annotated[str, Path(pattern=f"^cal_{ULID}$", max_length=64)]
RecipientId = Annotated[str, Path(pattern=f"^rcp_{ULID}$", max_length=64)]
Token = Annotated[str, Query(min_length=1, max_length=200, description="from the call-up mail")]


@mark_auth("staff", kinds={"staff"}, roles=tuple(sorted(SENDER_ROLES)))
async def callup_sender(request: Request) -> Principal:
    """Staff holding `emergency_publisher`, `alert_publisher` or `admin`."""
    principal = await authenticated(request)
    if principal.kind != "staff" or not principal.roles & SENDER_ROLES:
        raise Forbidden("call-ups are sent by emergency_publisher, alert_publisher or admin staff")
    return principal


GroupAdmin = Annotated[Principal, staff(role="admin")]
Sender = Annotated[Principal, Depends(callup_sender)]
StaffReader = Annotated[Principal, staff()]
SettingsDep = Annotated[Settings, Depends(app_settings)]


REPLAY: dict[int | str, dict[str, Any]] = {200: {"description": "an Idempotency-Key replay"}}
