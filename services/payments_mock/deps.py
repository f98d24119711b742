"""Dependencies of payments_mock's routes: scopes, the simulation gate, settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from services.kit.auth import Principal, authenticated, mark_auth
from services.kit.deps import app_settings
from services.kit.errors import Forbidden, NotFound
from services.payments_mock.settings import Settings

READ = "payments:read"
WRITE = "payments:write"
WEBHOOKS = "webhooks:manage"
SIMULATE = "payments:simulate"


def _scoped(*accepted: str) -> Callable[[Request], Awaitable[Principal]]:
    @mark_auth("scope", scopes=accepted, note="any principal holding one of the scopes")
    async def dependency(request: Request) -> Principal:
        """Any principal (service client, or a citizen/staff app) holding one of the scopes;
        its `sub` owns what it creates."""
        principal = await authenticated(request)
        if not any(principal.has_scope(scope) for scope in accepted):
            raise Forbidden(f"this endpoint needs the scope {accepted[0]}")
        return principal

    dependency.__name__ = f"require_{accepted[0].replace(':', '_')}"
    return dependency


@mark_auth(
    "simulation",
    roles=("admin",),
    scopes=("sim", SIMULATE, WRITE),
    note="simulation mode only; an admin or a client with one of the scopes",
)
async def simulator(request: Request) -> Principal:
    """Simulation mode only (404 otherwise): an admin, or a client with `sim`,
    `payments:simulate` or `payments:write` (client apps testing their own flows)."""
    settings: Settings = request.app.state.settings
    if not settings.simulation:
        raise NotFound("simulation endpoints are off outside simulation mode")
    principal = await authenticated(request)
    if not (
        principal.has_role("admin") or any(principal.has_scope(s) for s in ("sim", SIMULATE, WRITE))
    ):
        raise Forbidden("simulation needs the admin role or the sim / payments:simulate scope")
    return principal


def is_operator(principal: Principal) -> bool:
    """May act on any client's payment in simulation."""
    return (
        principal.has_role("admin") or principal.has_scope("sim") or principal.has_scope(SIMULATE)
    )


Reader = Annotated[Principal, Depends(_scoped(READ, WRITE))]
Writer = Annotated[Principal, Depends(_scoped(WRITE))]
WebhookManager = Annotated[Principal, Depends(_scoped(WEBHOOKS))]
Simulator = Annotated[Principal, Depends(simulator)]
SettingsDep = Annotated[Settings, Depends(app_settings)]

ID_PATTERN = r"^{prefix}_[0-9A-HJKMNP-TV-Z]{{26}}$"


def id_path(prefix: str) -> Any:
    return Path(pattern=ID_PATTERN.format(prefix=prefix), max_length=64)


PaymentId = Annotated[str, id_path("pay")]
RefundId = Annotated[str, id_path("re")]
EndpointId = Annotated[str, id_path("we")]
DeliveryId = Annotated[str, id_path("whd")]
