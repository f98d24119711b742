"""Routes: notification templates (create, list, read, edit as a new version, archive,
restore, versions, preview)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.alert_mail import notifications_service as service
from services.alert_mail.domain.templates_lifecycle import TemplateState, TemplateTransition
from services.alert_mail.routes.notification_access import (
    TemplateId,
    TemplateManager,
    TemplateReader,
)
from services.alert_mail.schemas.notifications import (
    PreviewCreate,
    PreviewRead,
    TemplateCreate,
    TemplateList,
    TemplateRead,
    TemplateUpdate,
    TemplateVersionList,
    TemplateVersionRead,
)
from services.kit.deps import ClockDep, SessionDep
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/templates")

Version = Annotated[int, Path(ge=1, le=1_000_000)]


@router.post("", response_model=TemplateRead, status_code=201)
async def create_template(
    body: TemplateCreate,
    principal: TemplateManager,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> TemplateRead:
    """Version 1 of a new template. Placeholders as in GOV.UK Notify: `((name))` is filled
    from a notification's `personalisation`; `((name??text))` shows `text` only when `name`
    is yes/true. A `((` or `))` that forms no placeholder is refused (422 naming the field)."""
    template = await service.create_template(session, body, actor=principal, now=clock.now())
    response.headers["Location"] = f"/v1/notifications/templates/{template.id}"
    return await service.read_template(session, template)


@router.get("", response_model=TemplateList)
async def list_templates(
    _: TemplateReader,
    session: SessionDep,
    state: TemplateState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TemplateList:
    items, next_cursor = await service.list_templates(
        session, state=state, limit=limit, cursor=cursor
    )
    return TemplateList(items=items, next_cursor=next_cursor)


@router.get("/{template_id}", response_model=TemplateRead)
async def get_template(
    template_id: TemplateId, _: TemplateReader, session: SessionDep
) -> TemplateRead:
    """The latest version, and the newest 100 versions' numbers."""
    return await service.read_template(session, await service.get_template(session, template_id))


@router.patch("/{template_id}", response_model=TemplateRead)
async def update_template(
    template_id: TemplateId,
    body: TemplateUpdate,
    principal: TemplateManager,
    session: SessionDep,
    clock: ClockDep,
) -> TemplateRead:
    """A changed subject or body becomes version n+1 (earlier versions stay readable, and
    notifications keep the version they were sent with); name and description change in place.
    An archived template is restored before it is edited (409 otherwise)."""
    template = await service.get_template(session, template_id, for_update=True)
    await service.update_template(session, template, body, actor=principal, now=clock.now())
    return await service.read_template(session, template)


async def _transition(
    template_id: str,
    transition: TemplateTransition,
    principal: TemplateManager,
    session: SessionDep,
    clock: ClockDep,
) -> TemplateRead:
    template = await service.get_template(session, template_id, for_update=True)
    await service.transition_template(
        session, template, transition, actor=principal, now=clock.now()
    )
    return await service.read_template(session, template)


@router.post("/{template_id}/archive", response_model=TemplateRead)
async def archive_template(
    template_id: TemplateId, principal: TemplateManager, session: SessionDep, clock: ClockDep
) -> TemplateRead:
    """No new notifications use it; 409 when it is already archived."""
    return await _transition(template_id, TemplateTransition.ARCHIVE, principal, session, clock)


@router.post("/{template_id}/restore", response_model=TemplateRead)
async def restore_template(
    template_id: TemplateId, principal: TemplateManager, session: SessionDep, clock: ClockDep
) -> TemplateRead:
    """Makes an archived template usable again; 409 when it is active."""
    return await _transition(template_id, TemplateTransition.RESTORE, principal, session, clock)


@router.get("/{template_id}/versions", response_model=TemplateVersionList)
async def list_versions(
    template_id: TemplateId,
    _: TemplateReader,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TemplateVersionList:
    """Newest first."""
    await service.get_template(session, template_id)
    items, next_cursor = await service.list_versions(
        session, template_id, limit=limit, cursor=cursor
    )
    return TemplateVersionList(items=items, next_cursor=next_cursor)


@router.get("/{template_id}/versions/{version}", response_model=TemplateVersionRead)
async def get_version(
    template_id: TemplateId, version: Version, _: TemplateReader, session: SessionDep
) -> TemplateVersionRead:
    await service.get_template(session, template_id)
    return service.version_read(await service.get_version(session, template_id, version))


@router.post("/{template_id}/preview", response_model=PreviewRead)
async def preview_template(
    template_id: TemplateId, body: PreviewCreate, _: TemplateReader, session: SessionDep
) -> PreviewRead:
    """Renders a version (default: the latest) with `personalisation` without sending
    anything: the same rules, and the same 422 naming `personalisation.<name>`, as sending."""
    template = await service.get_template(session, template_id)
    return await service.preview(session, template, body)
