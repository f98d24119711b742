"""The application layer of transactional notices: templates (append-only versions, archive and
restore as named transitions) and notifications rendered from them and queued for the sending
workers, all in the caller's transaction with their audit events.

Plain functions over a session (no FastAPI): the routes parse and authorize, then call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from services.alert_mail.delivery.enqueue import PRIORITY_NOTICE, enqueue_message
from services.alert_mail.domain import templates
from services.alert_mail.domain.templates_lifecycle import (
    TEMPLATES,
    TemplateState,
    TemplateTransition,
    state_of,
)
from services.alert_mail.domain.templates_seed import seed_templates
from services.alert_mail.models import (
    Delivery,
    Notification,
    NotificationTemplate,
    NotificationTemplateVersion,
    OutgoingMessage,
)
from services.alert_mail.schemas.notifications import (
    NotificationCreate,
    NotificationRead,
    PreviewCreate,
    PreviewRead,
    TemplateCreate,
    TemplateRead,
    TemplateSummary,
    TemplateUpdate,
    TemplateVersionRead,
    TemplateVersionSummary,
)
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.kit.pagination import keyset_page, keyset_rows

SERVICE = "alert_mail"
EMBEDDED_VERSIONS = 100
FINAL_STATUSES = frozenset({"delivered", "permanent-failure", "technical-failure"})
NOTIFICATION_HEADERS = {"Auto-Submitted": "auto-generated"}  # RFC 3834: no auto-replies


# --- templates: reading ----------------------------------------------------------------------


async def get_template(
    session: AsyncSession, template_id: str, *, for_update: bool = False
) -> NotificationTemplate:
    query = select(NotificationTemplate).where(col(NotificationTemplate.id) == template_id)
    if for_update:
        query = query.with_for_update()
    template = (await session.exec(query)).one_or_none()
    if template is None:
        raise NotFound(f"no template {template_id}")
    return template


async def get_version(
    session: AsyncSession, template_id: str, version: int
) -> NotificationTemplateVersion:
    row = await session.get(NotificationTemplateVersion, (template_id, version))
    if row is None:
        raise NotFound(f"template {template_id} has no version {version}")
    return row


def _names(version: NotificationTemplateVersion) -> tuple[list[str], list[str]]:
    required = templates.required_keys(version.subject, version.body)
    optional: dict[str, str] = {}
    for field, text in (("subject", version.subject), ("body", version.body)):
        for placeholder in templates.placeholders(text, field):
            if placeholder.is_conditional:
                optional.setdefault(placeholder.key, placeholder.name)
    return required, list(optional.values())


def version_read(version: NotificationTemplateVersion) -> TemplateVersionRead:
    required, optional = _names(version)
    return TemplateVersionRead(
        template_id=version.template_id,
        version=version.version,
        subject=version.subject,
        body=version.body,
        placeholders=required,
        optional_placeholders=optional,
        created_at=version.created_at,
        created_by=version.created_by,
    )


def summary(template: NotificationTemplate, latest: NotificationTemplateVersion) -> TemplateSummary:
    required, optional = _names(latest)
    state = state_of(template.archived)
    return TemplateSummary(
        id=template.id,
        name=template.name,
        description=template.description,
        language=template.language,
        state=state.value,
        version=template.version,
        subject=latest.subject,
        body=latest.body,
        placeholders=required,
        optional_placeholders=optional,
        allowed_transitions=[t.value for t in TEMPLATES.allowed(state)],
        created_by=template.created_by,
        created_at=template.created_at,
        updated_at=template.updated_at,
        archived_at=template.archived_at,
    )


async def read_template(session: AsyncSession, template: NotificationTemplate) -> TemplateRead:
    latest = await get_version(session, template.id, template.version)
    versions, _ = await list_versions(session, template.id, limit=EMBEDDED_VERSIONS, cursor=None)
    return TemplateRead(**summary(template, latest).model_dump(), versions=versions)


async def list_templates(
    session: AsyncSession, *, state: TemplateState | None, limit: int, cursor: str | None
) -> tuple[list[TemplateSummary], str | None]:
    """Oldest first (ids are time-ordered), each with its latest version."""
    query = select(NotificationTemplate, NotificationTemplateVersion).join(
        NotificationTemplateVersion,
        (col(NotificationTemplateVersion.template_id) == col(NotificationTemplate.id))
        & (col(NotificationTemplateVersion.version) == col(NotificationTemplate.version)),
    )
    if state is not None:
        query = query.where(col(NotificationTemplate.archived) == (state is TemplateState.ARCHIVED))
    rows, next_cursor = await keyset_rows(
        session,
        query,
        col(NotificationTemplate.id),
        limit=limit,
        cursor=cursor,
        position_of=lambda row: row[0].id,
    )
    return [summary(t, v) for t, v in rows], next_cursor


async def list_versions(
    session: AsyncSession, template_id: str, *, limit: int, cursor: str | None
) -> tuple[list[TemplateVersionSummary], str | None]:
    """Newest first."""
    query = select(NotificationTemplateVersion).where(
        col(NotificationTemplateVersion.template_id) == template_id
    )
    rows, next_cursor = await keyset_page(
        session,
        query,
        col(NotificationTemplateVersion.version),
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    items = [TemplateVersionSummary.model_validate(v, from_attributes=True) for v in rows]
    return items, next_cursor


# --- templates: changing ---------------------------------------------------------------------


def _new_version(
    template_id: str, version: int, subject: str, body: str, created_by: str, now: datetime
) -> NotificationTemplateVersion:
    templates.check_template(subject, body)
    return NotificationTemplateVersion(
        template_id=template_id,
        version=version,
        subject=subject,
        body=body,
        created_by=created_by,
        created_at=now,
    )


async def create_template(
    session: AsyncSession, body: TemplateCreate, *, actor: Principal, now: datetime
) -> NotificationTemplate:
    template = NotificationTemplate(
        id=new_id("tpl"),
        name=body.name,
        description=body.description or None,
        language=body.language,
        version=1,
        created_by=actor.sub,
        created_at=now,
        updated_at=now,
    )
    first = _new_version(template.id, 1, body.subject, body.body, actor.sub, now)
    session.add(template)
    await session.flush()
    session.add(first)
    await session.flush()
    await audit.record(
        session,
        actor,
        "notification_template.created",
        template.id,
        service=SERVICE,
        now=now,
        changes={"name": template.name, "language": template.language, "version": 1},
    )
    return template


async def update_template(
    session: AsyncSession,
    template: NotificationTemplate,
    body: TemplateUpdate,
    *,
    actor: Principal,
    now: datetime,
) -> NotificationTemplate:
    """Locked by the caller (`get_template(for_update=True)`), so two edits cannot both
    become version n+1."""
    if not body.model_fields_set:
        raise UnprocessableContent(
            "nothing to change: send name, description, subject or body",
            errors=[
                {"field": f, "message": "one of these is needed"}
                for f in ("name", "description", "subject", "body")
            ],
        )
    TEMPLATES.require(state_of(template.archived), TemplateTransition.EDIT)
    latest = await get_version(session, template.id, template.version)
    subject = body.subject if body.subject is not None else latest.subject
    text = body.body if body.body is not None else latest.body
    changes: dict[str, object] = {}
    if (subject, text) != (latest.subject, latest.body):
        version = _new_version(template.id, template.version + 1, subject, text, actor.sub, now)
        session.add(version)
        changes["version"] = {"old": template.version, "new": version.version}
        template.version = version.version
    if body.name is not None and body.name != template.name:
        changes["name"] = {"old": template.name, "new": body.name}
        template.name = body.name
    if "description" in body.model_fields_set and body.description != template.description:
        changes["description"] = "changed"
        template.description = body.description or None
    if not changes:
        return template
    template.updated_at = now
    session.add(template)
    await session.flush()
    await audit.record(
        session,
        actor,
        "notification_template.updated",
        template.id,
        service=SERVICE,
        now=now,
        changes=changes,
    )
    return template


async def transition_template(
    session: AsyncSession,
    template: NotificationTemplate,
    transition: TemplateTransition,
    *,
    actor: Principal,
    now: datetime,
) -> NotificationTemplate:
    before = state_of(template.archived)
    after = TEMPLATES.apply(before, transition)
    template.archived = after is TemplateState.ARCHIVED
    template.archived_at = now if template.archived else None
    template.updated_at = now
    session.add(template)
    await session.flush()
    await audit.record(
        session,
        actor,
        f"notification_template.{transition.value}d",
        template.id,
        service=SERVICE,
        now=now,
        changes={"state": {"old": before.value, "new": after.value}},
    )
    return template


async def preview(
    session: AsyncSession, template: NotificationTemplate, body: PreviewCreate
) -> PreviewRead:
    version = await get_version(session, template.id, body.version or template.version)
    rendered = templates.render(
        version.subject, version.body, body.personalisation, language=template.language
    )
    return PreviewRead(
        template_id=template.id,
        template_version=version.version,
        subject=rendered.subject,
        body=rendered.body,
    )


# --- notifications ---------------------------------------------------------------------------


async def _usable_template(
    session: AsyncSession, template_id: str
) -> tuple[NotificationTemplate, NotificationTemplateVersion]:
    template = await session.get(NotificationTemplate, template_id)
    if template is None:
        raise UnprocessableContent(f"no template {template_id}", field="template_id")
    if template.archived:
        raise UnprocessableContent(
            f"template {template_id} is archived; restore it to send with it",
            field="template_id",
        )
    return template, await get_version(session, template.id, template.version)


async def send(
    session: AsyncSession, body: NotificationCreate, *, client: Principal, now: datetime
) -> tuple[Notification, Delivery, OutgoingMessage]:
    """Renders the template's latest version and queues the mail in this transaction: if the
    request fails, nothing is sent."""
    template, version = await _usable_template(session, body.template_id)
    rendered = templates.render(
        version.subject, version.body, body.personalisation, language=template.language
    )
    delivery = await enqueue_message(
        session,
        to=body.email_address,
        subject=rendered.subject,
        text=rendered.body,
        kind="notification",
        now=now,
        headers=NOTIFICATION_HEADERS,
        language=template.language,
        priority=PRIORITY_NOTICE,
    )
    assert delivery.id is not None
    assert delivery.message_id is not None
    notification = Notification(
        id=new_id("ntf"),
        client=client.sub,
        template_id=template.id,
        template_version=version.version,
        email=body.email_address,
        personalisation=dict(body.personalisation),
        reference=body.reference,
        delivery_id=delivery.id,
        created_at=now,
    )
    session.add(notification)
    await session.flush()
    await audit.record(
        session,
        client,
        "notification.created",
        notification.id,
        service=SERVICE,
        now=now,
        changes={"template_id": template.id, "template_version": version.version},
    )
    message = await session.get(OutgoingMessage, delivery.message_id)
    assert message is not None
    return notification, delivery, message


def notification_read(
    notification: Notification, delivery: Delivery, message: OutgoingMessage
) -> NotificationRead:
    completed_at = None
    if delivery.status in FINAL_STATUSES:
        completed_at = delivery.delivered_at or delivery.updated_at
    return NotificationRead(
        id=notification.id,
        reference=notification.reference,
        email_address=notification.email,
        template_id=notification.template_id,
        template_version=notification.template_version,
        subject=message.subject,
        body=message.text,
        status=delivery.status,
        created_at=notification.created_at,
        updated_at=delivery.updated_at,
        completed_at=completed_at,
    )


def _joined() -> Select[Notification, Delivery, OutgoingMessage]:
    return (
        select(Notification, Delivery, OutgoingMessage)
        .join(Delivery, col(Delivery.id) == col(Notification.delivery_id))
        .join(OutgoingMessage, col(OutgoingMessage.id) == col(Delivery.message_id))
    )


async def get_notification(
    session: AsyncSession, notification_id: str, client: str
) -> NotificationRead:
    """The client's own notification, or 404 (other clients' ids are never revealed)."""
    query = _joined().where(
        col(Notification.id) == notification_id, col(Notification.client) == client
    )
    row = (await session.exec(query)).one_or_none()
    if row is None:
        raise NotFound(f"no notification {notification_id}")
    return notification_read(*row)


@dataclass(frozen=True, slots=True)
class NotificationFilter:
    client: str
    reference: str | None = None
    status: str | None = None
    template_id: str | None = None


async def list_notifications(
    session: AsyncSession, filters: NotificationFilter, *, limit: int, cursor: str | None
) -> tuple[list[NotificationRead], str | None]:
    """Newest first; only the client's own."""
    query = _joined().where(col(Notification.client) == filters.client)
    if filters.reference is not None:
        query = query.where(col(Notification.reference) == filters.reference)
    if filters.template_id is not None:
        query = query.where(col(Notification.template_id) == filters.template_id)
    if filters.status is not None:
        query = query.where(col(Delivery.status) == filters.status)
    rows, next_cursor = await keyset_rows(
        session,
        query,
        col(Notification.id),
        limit=limit,
        cursor=cursor,
        position_of=lambda row: row[0].id,
        descending=True,
    )
    return [notification_read(*row) for row in rows], next_cursor


# --- seed ------------------------------------------------------------------------------------

SEED_ACTOR = "seed"


async def upsert_seed_templates(
    session: AsyncSession, city_name: str, now: datetime, *, city_name_en: str = "Demo City"
) -> int:
    """Creates the other services' templates under their stable ids. A seeded template the
    seed changed gets a new version; one that staff edited since keeps their version."""
    count = 0
    for seeded in seed_templates(city_name, city_name_en):
        template = await session.get(NotificationTemplate, seeded.id)
        if template is None:
            template = NotificationTemplate(
                id=seeded.id,
                name=seeded.name,
                description=seeded.description,
                language=seeded.language,
                version=0,
                created_by=SEED_ACTOR,
                created_at=now,
                updated_at=now,
            )
            session.add(template)
            await session.flush()
        else:
            latest = await get_version(session, template.id, template.version)
            if latest.created_by != SEED_ACTOR or (latest.subject, latest.body) == (
                seeded.subject,
                seeded.body,
            ):
                count += 1
                continue
        version = _new_version(
            template.id, template.version + 1, seeded.subject, seeded.body, SEED_ACTOR, now
        )
        template.version = version.version
        template.updated_at = now
        session.add(version)
        await session.flush()
        count += 1
    return count
