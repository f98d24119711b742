"""Dependencies of e_application's routes: the attachment store, the JPKI trust source and
the status-lookup limiter (built at startup, kept on the runtime), and path parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Path, Request

from services.e_application.attachments_service import AttachmentStore
from services.e_application.domain.lookup_limit import ClientAttempts
from services.e_application.schemas.applications import (
    APPLICATION_ID_PATTERN,
    ATTACHMENT_ID_PATTERN,
)
from services.e_application.settings import Settings
from services.e_application.signing_service import RemoteTrust, TrustSource
from services.kit.app import ServiceRuntime

STORE = "e_application.attachments"
TRUST = "e_application.jpki_trust"
LOOKUPS = "e_application.status_lookups"


async def build_runtime_parts(app: FastAPI, runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    runtime.extras.setdefault(STORE, AttachmentStore(settings.attachments_path))
    runtime.extras.setdefault(
        TRUST,
        RemoteTrust(runtime.http, settings.gateway_url, ttl=settings.jpki_trust_ttl_seconds),
    )
    runtime.extras.setdefault(LOOKUPS, ClientAttempts())


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def attachment_store(request: Request) -> AttachmentStore:
    store: AttachmentStore = _runtime(request).extras[STORE]
    return store


async def trust_source(request: Request) -> TrustSource:
    source: TrustSource = _runtime(request).extras[TRUST]
    return source


async def lookup_attempts(request: Request) -> ClientAttempts:
    attempts: ClientAttempts = _runtime(request).extras[LOOKUPS]
    return attempts


def client_key(request: Request) -> str:
    """The caller's address as the gateway forwards it (its first hop), else the peer."""
    forwarded = request.headers.get("x-forwarded-for", "")
    first = forwarded.split(",")[0].strip()
    if first:
        return first
    return request.client.host if request.client else "unknown"


StoreDep = Annotated[AttachmentStore, Depends(attachment_store)]
TrustDep = Annotated[TrustSource, Depends(trust_source)]
AttemptsDep = Annotated[ClientAttempts, Depends(lookup_attempts)]
ApplicationId = Annotated[str, Path(pattern=APPLICATION_ID_PATTERN, max_length=30)]
AttachmentId = Annotated[str, Path(pattern=ATTACHMENT_ID_PATTERN, max_length=30)]
