"""The reads of alerts: staff views (their department's, or all for an administrator),
the public list and CAP links, the history. One read rule: `may_see`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.domain.alert_lifecycle import ALERTS, SENT_STATES, AlertState, is_sent
from services.alert_mail.domain.alert_rules import may_act_for
from services.alert_mail.models import Alert, AlertEvent
from services.alert_mail.schemas.alerts import (
    AlertEventRead,
    AlertRead,
    LanguageContentRead,
    PublicAlertRead,
)
from services.alert_mail.settings import Settings
from services.kit.auth import Principal
from services.kit.errors import NotFound
from services.kit.pagination import keyset_page

SENT_STATUSES = tuple(s.value for s in AlertState if s in SENT_STATES)


def is_admin(principal: Principal) -> bool:
    return "admin" in principal.roles


def may_see(alert: Alert, principal: Principal) -> bool:
    return may_act_for(
        alert.department, staff_department=principal.department, is_admin=is_admin(principal)
    )


# --- reads ---------------------------------------------------------------------------------


def to_read(alert: Alert) -> AlertRead:
    return AlertRead(
        id=alert.id,
        status=alert.status,
        msg_type=alert.msg_type,
        references=alert.references_id,
        category=alert.category,
        department=alert.department,
        districts=list(alert.districts),
        severity=alert.severity,
        urgency=alert.urgency,
        certainty=alert.certainty,
        content=_content(alert),
        emergency=alert.emergency,
        created_by=alert.created_by,
        submitted_by=alert.submitted_by,
        approved_by=alert.approved_by,
        recipients=alert.recipients,
        version=alert.version,
        created_at=alert.created_at,
        updated_at=alert.updated_at,
        expires_at=alert.expires_at,
        sent_at=alert.sent_at,
        completed_at=alert.completed_at,
        superseded_by=alert.superseded_by,
        cancelled_at=alert.cancelled_at,
        allowed_transitions=[t.value for t in ALERTS.allowed(alert.status)],
    )


def cap_url(settings: Settings, alert_id: str) -> str:
    return f"{settings.public_url}/v1/feeds/cap/{alert_id}.xml"


def to_public(settings: Settings, alert: Alert) -> PublicAlertRead:
    if alert.sent_at is None:
        raise ValueError("only sent alerts are public")
    return PublicAlertRead(
        id=alert.id,
        status=alert.status,
        msg_type=alert.msg_type,
        references=alert.references_id,
        category=alert.category,
        districts=list(alert.districts),
        severity=alert.severity,
        urgency=alert.urgency,
        certainty=alert.certainty,
        content=_content(alert),
        sent_at=alert.sent_at,
        expires_at=alert.expires_at,
        superseded_by=alert.superseded_by,
        cancelled_at=alert.cancelled_at,
        cap_url=cap_url(settings, alert.id),
    )


def _content(alert: Alert) -> dict[str, LanguageContentRead]:
    return {lang: LanguageContentRead.model_validate(c) for lang, c in alert.content.items()}


async def get_visible(
    session: AsyncSession, alert_id: str, principal: Principal, *, for_update: bool = False
) -> Alert:
    """The alert if the staff member's department owns it, else 404 (never a 403: other
    departments' drafts are not revealed)."""
    query = select(Alert).where(col(Alert.id) == alert_id)
    if for_update:
        query = query.with_for_update()
    alert = (await session.exec(query.execution_options(populate_existing=True))).one_or_none()
    if alert is None or not may_see(alert, principal):
        raise NotFound(f"no alert {alert_id}")
    return alert


async def get_sent(session: AsyncSession, alert_id: str) -> Alert:
    alert = await session.get(Alert, alert_id)
    if alert is None or not is_sent(alert.status):
        raise NotFound(f"no sent alert {alert_id}")
    return alert


@dataclass(frozen=True, slots=True)
class StaffFilter:
    status: str | None = None
    category: str | None = None


async def list_for_staff(
    session: AsyncSession,
    principal: Principal,
    filters: StaffFilter,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Alert], str | None]:
    """The department's alerts, drafts included, newest first (ids are time-ordered)."""
    query = select(Alert)
    if not is_admin(principal):
        query = query.where(col(Alert.department) == (principal.department or ""))
    if filters.status is not None:
        query = query.where(col(Alert.status) == filters.status)
    if filters.category is not None:
        query = query.where(col(Alert.category) == filters.category)
    return await keyset_page(
        session, query, col(Alert.id), limit=limit, cursor=cursor, descending=True
    )


async def list_public(
    session: AsyncSession, *, category: str | None, limit: int, cursor: str | None
) -> tuple[list[Alert], str | None]:
    """Sent alerts, newest first."""
    query = select(Alert).where(col(Alert.status).in_(SENT_STATUSES))
    if category is not None:
        query = query.where(col(Alert.category) == category)
    key = (col(Alert.sent_at), col(Alert.id))
    return await keyset_page(session, query, key, limit=limit, cursor=cursor, descending=True)


async def list_events(
    session: AsyncSession, alert_id: str, *, limit: int, cursor: str | None
) -> tuple[list[AlertEventRead], str | None]:
    """The history oldest first; the cursor is the last row's id (`seq`)."""
    query = select(AlertEvent).where(col(AlertEvent.alert_id) == alert_id)
    rows, next_cursor = await keyset_page(
        session, query, col(AlertEvent.id), limit=limit, cursor=cursor
    )
    items = [
        AlertEventRead(
            seq=row.id or 0,
            transition=row.transition,
            from_status=row.from_status,
            to_status=row.to_status,
            actor=row.actor,
            note=row.note,
            at=row.at,
        )
        for row in rows
    ]
    return items, next_cursor
