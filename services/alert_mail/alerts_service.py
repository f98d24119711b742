"""The application layer of alerts: compose, edit, the four-eyes review, emergency
publication and completion (the reads are alert_reads). Plain functions over a session (no
FastAPI); every transition goes through `_transition()`, which applies the state machine, and
every change is recorded by `_record()`, which appends the history row and writes the audit
event in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.alert_reads import SENT_STATUSES, is_admin, may_see
from services.alert_mail.delivery.fanout import fan_out
from services.alert_mail.delivery.stops import note_stopped
from services.alert_mail.domain.alert_lifecycle import (
    ALERTS,
    AUDIT_ACTIONS,
    AlertState,
    AlertTransition,
    is_sent,
)
from services.alert_mail.domain.alert_rules import (
    MsgType,
    check_expiry_at_compose,
    check_four_eyes,
    check_not_expired,
    check_reference_needed,
    duplicate_error,
    fingerprint,
    may_act_for,
)
from services.alert_mail.domain.delivery_status import (
    DELIVERIES,
    PENDING,
    QUEUED,
    STATUSES,
    STOP_BY,
    STOPS,
    DeliveryTransition,
)
from services.alert_mail.models import Alert, AlertEvent, Category, Delivery, District
from services.alert_mail.schemas.alerts import (
    AlertCreate,
    AlertPatch,
)
from services.alert_mail.settings import Settings
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import Conflict, Forbidden, UnprocessableContent
from services.kit.ids import new_id

SERVICE = "alert_mail"
# Put on the session by a transaction that sent an alert; the feed broadcaster wakes on it.
ALERT_SENT_FLAG = "alert_mail.alert_sent"
UNFINISHED_DELIVERIES = tuple(s for s in STATUSES if s in PENDING)


# --- history -------------------------------------------------------------------------------


async def _record(
    session: AsyncSession,
    alert: Alert,
    name: str,
    action: str,
    *,
    from_status: str | None,
    actor: Principal | None,
    now: datetime,
    changes: dict[str, Any],
    note: str | None = None,
) -> None:
    """Appends the history row of a change to `alert` and audits it, in the same transaction."""
    session.add(
        AlertEvent(
            alert_id=alert.id,
            transition=name,
            from_status=from_status,
            to_status=alert.status,
            actor=actor.sub if actor else None,
            note=note,
            at=now,
        )
    )
    await session.flush()
    await audit.record(session, actor, action, alert.id, service=SERVICE, now=now, changes=changes)


async def _transition(
    session: AsyncSession,
    alert: Alert,
    step: AlertTransition,
    *,
    actor: Principal | None,
    now: datetime,
    note: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Applies `step` (IllegalTransition → 409 naming the state), records and audits it."""
    before = alert.status
    alert.status = ALERTS.apply(before, step).value
    alert.version += 1
    alert.updated_at = now
    session.add(alert)
    await session.flush()
    await _record(
        session,
        alert,
        step.value,
        AUDIT_ACTIONS[step],
        from_status=before,
        actor=actor,
        now=now,
        changes={"status": [before, alert.status], **(changes or {})},
        note=note,
    )


# --- compose and edit ----------------------------------------------------------------------


async def _category(session: AsyncSession, code: str, principal: Principal) -> Category:
    category = await session.get(Category, code)
    if category is None:
        raise UnprocessableContent(f"unknown category {code}", field="category")
    if not may_act_for(
        category.department, staff_department=principal.department, is_admin=is_admin(principal)
    ):
        message = f"category {code} belongs to department {category.department}"
        raise Forbidden(message, errors=[{"field": "category", "message": message}])
    return category


async def _districts(session: AsyncSession, codes: Sequence[str]) -> list[str]:
    wanted = sorted(set(codes))
    if not wanted:
        return []
    query = select(District.code).where(col(District.code).in_(wanted))
    known = set((await session.exec(query)).all())
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise UnprocessableContent(f"unknown districts: {', '.join(unknown)}", field="districts")
    return wanted


async def _check_reference(
    session: AsyncSession, principal: Principal, msg_type: str, references: str | None
) -> None:
    check_reference_needed(msg_type, references)
    if references is None:
        return
    earlier = await session.get(Alert, references)
    if earlier is None or not may_see(earlier, principal) or not is_sent(earlier.status):
        raise UnprocessableContent(
            f"{references} is not an alert your department has sent", field="references"
        )
    if earlier.cancelled_at is not None:
        raise UnprocessableContent(f"{references} was already cancelled", field="references")


def _fingerprint(alert: Alert) -> str:
    return fingerprint(
        category=alert.category,
        districts=alert.districts,
        msg_type=alert.msg_type,
        references=alert.references_id,
        content=alert.content,
    )


async def create(
    session: AsyncSession, body: AlertCreate, *, actor: Principal, now: datetime
) -> Alert:
    category = await _category(session, body.category, actor)
    districts = await _districts(session, body.districts)
    check_expiry_at_compose(body.expires_at, now)
    await _check_reference(session, actor, body.msg_type, body.references)
    alert = Alert(
        id=new_id("alt"),
        status=AlertState.DRAFT.value,
        msg_type=body.msg_type.value,
        references_id=body.references,
        category=category.code,
        districts=districts,
        severity=body.severity.value,
        urgency=body.urgency.value,
        certainty=body.certainty.value,
        content=body.content.stored(),
        department=category.department,
        fingerprint="",
        created_by=actor.sub,
        version=1,
        created_at=now,
        updated_at=now,
        expires_at=body.expires_at,
    )
    alert.fingerprint = _fingerprint(alert)
    session.add(alert)
    await session.flush()
    await _record(
        session,
        alert,
        "create",
        "alert.created",
        from_status=None,
        actor=actor,
        now=now,
        changes={"status": [None, alert.status], "category": alert.category},
    )
    return alert


async def edit(
    session: AsyncSession, alert: Alert, body: AlertPatch, *, actor: Principal, now: datetime
) -> Alert:
    """Changes a draft (a rejected alert is a draft again); the fingerprint follows."""
    if alert.status != AlertState.DRAFT:
        raise Conflict(
            f"only a draft can be edited; this alert is {alert.status}",
            current_state=alert.status,
            transition="edit",
        )
    given = body.model_fields_set
    for name in given:
        if getattr(body, name) is None and name != "references":
            raise UnprocessableContent(f"{name} cannot be null", field=name)
    if "category" in given and body.category is not None:
        category = await _category(session, body.category, actor)
        alert.category, alert.department = category.code, category.department
    if body.districts is not None:
        alert.districts = await _districts(session, body.districts)
    if body.severity is not None:
        alert.severity = body.severity.value
    if body.urgency is not None:
        alert.urgency = body.urgency.value
    if body.certainty is not None:
        alert.certainty = body.certainty.value
    if body.content is not None:
        alert.content = body.content.stored()
    if body.expires_at is not None:
        check_expiry_at_compose(body.expires_at, now)
        alert.expires_at = body.expires_at
    if body.msg_type is not None:
        alert.msg_type = body.msg_type.value
    if "references" in given:
        alert.references_id = body.references
    if {"msg_type", "references"} & given:
        await _check_reference(session, actor, alert.msg_type, alert.references_id)
    alert.fingerprint = _fingerprint(alert)
    alert.version += 1
    alert.updated_at = now
    session.add(alert)
    await session.flush()
    await _record(
        session,
        alert,
        "edit",
        "alert.updated",
        from_status=alert.status,
        actor=actor,
        now=now,
        changes={"fields": sorted(given)},
    )
    return alert


# --- review --------------------------------------------------------------------------------


async def submit(session: AsyncSession, alert: Alert, *, actor: Principal, now: datetime) -> None:
    alert.submitted_by = actor.sub
    await _transition(session, alert, AlertTransition.SUBMIT, actor=actor, now=now)


async def reject(
    session: AsyncSession, alert: Alert, note: str, *, actor: Principal, now: datetime
) -> None:
    ALERTS.require(alert.status, AlertTransition.REJECT)  # a 409 names the state before any 403
    check_four_eyes(actor.sub, created_by=alert.created_by, submitted_by=alert.submitted_by)
    await _transition(session, alert, AlertTransition.REJECT, actor=actor, now=now, note=note)


async def withdraw(
    session: AsyncSession, alert: Alert, note: str | None, *, actor: Principal, now: datetime
) -> None:
    await _transition(session, alert, AlertTransition.WITHDRAW, actor=actor, now=now, note=note)


async def approve(
    session: AsyncSession, settings: Settings, alert: Alert, *, actor: Principal, now: datetime
) -> None:
    """The second person's approval sends the alert, in this transaction."""
    ALERTS.require(alert.status, AlertTransition.APPROVE)
    check_four_eyes(actor.sub, created_by=alert.created_by, submitted_by=alert.submitted_by)
    await _check_sendable(session, settings, alert, now)
    alert.approved_by = actor.sub
    await _send(session, alert, AlertTransition.APPROVE, actor=actor, now=now)


async def publish_emergency(
    session: AsyncSession, settings: Settings, alert: Alert, *, actor: Principal, now: datetime
) -> None:
    """An emergency_publisher sends a draft at once, without a second person."""
    ALERTS.require(alert.status, AlertTransition.PUBLISH_EMERGENCY)
    await _check_sendable(session, settings, alert, now)
    alert.emergency = True
    alert.submitted_by = alert.submitted_by or actor.sub
    alert.approved_by = actor.sub
    await _send(session, alert, AlertTransition.PUBLISH_EMERGENCY, actor=actor, now=now)


async def _check_sendable(
    session: AsyncSession, settings: Settings, alert: Alert, now: datetime
) -> None:
    check_not_expired(alert.expires_at, now)
    if alert.references_id is not None:
        earlier = await session.get(Alert, alert.references_id)
        if earlier is not None and earlier.cancelled_at is not None:
            message = f"{alert.references_id} was cancelled in the meantime"
            raise Conflict(message, errors=[{"field": "references", "message": message}])
    await _check_duplicate(session, settings, alert, now)


async def _check_duplicate(
    session: AsyncSession, settings: Settings, alert: Alert, now: datetime
) -> None:
    window = settings.duplicate_window_minutes
    if window <= 0:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # Two approvals of identical alerts at once: the second waits here, then sees the first.
        lock = text("SELECT pg_advisory_xact_lock(hashtextextended(:fingerprint, 0))")
        await session.exec(lock.bindparams(fingerprint=alert.fingerprint))  # type: ignore[call-overload]
    query = (
        select(Alert.id)
        .where(
            col(Alert.fingerprint) == alert.fingerprint,
            col(Alert.id) != alert.id,
            col(Alert.status).in_(SENT_STATUSES),
            col(Alert.sent_at) >= now - timedelta(minutes=window),
        )
        .order_by(col(Alert.sent_at).desc())
        .limit(1)
    )
    earlier = (await session.exec(query)).first()
    if earlier is not None:
        raise duplicate_error(earlier, window)


async def _send(
    session: AsyncSession,
    alert: Alert,
    step: AlertTransition,
    *,
    actor: Principal,
    now: datetime,
) -> None:
    alert.sent_at = now
    await _transition(session, alert, step, actor=actor, now=now)
    alert.recipients = await fan_out(session, alert, now)
    session.add(alert)
    await _replace_referenced(session, alert, now)
    session.info[ALERT_SENT_FLAG] = True
    if alert.recipients == 0:
        await _complete(session, alert, now)


async def _replace_referenced(session: AsyncSession, alert: Alert, now: datetime) -> None:
    """An Update supersedes the alert it references; a Cancel also cancels it. Either stops
    the mails of the earlier alert not yet sent (`STOP_BY`)."""
    if alert.references_id is None:
        return
    earlier = await session.get(Alert, alert.references_id)
    if earlier is None:
        return
    stop = STOP_BY[MsgType(alert.msg_type)]
    earlier.superseded_by = alert.id
    if stop is DeliveryTransition.CANCEL:
        earlier.cancelled_at = now
    earlier.updated_at = now
    session.add(earlier)
    await session.flush()
    await _stop_deliveries(session, earlier, stop, now)


async def _stop_deliveries(
    session: AsyncSession, alert: Alert, stop: DeliveryTransition, now: datetime
) -> None:
    """A Cancel or an Update stops what the alert it replaces has not sent: its deliveries
    waiting in the queue are cancelled or superseded here, the ones a worker holds by that
    worker, which sends no more of them (delivery.stops). Mails already sent, or being sent
    (`sending`, held by a worker), are not touched here. The alert completes once none is
    left to attempt."""
    (stopped,) = {DELIVERIES.apply(s, stop) for s in QUEUED}
    await session.exec(
        update(Delivery)
        .where(col(Delivery.alert_id) == alert.id, col(Delivery.status).in_(QUEUED))
        .values(status=stopped.value, updated_at=now, last_detail=STOPS[stop])
    )
    note_stopped(session, alert.id, stop)
    if alert.status == AlertState.SENDING:
        await complete_finished_alerts(session, now, alert_ids=[alert.id])


# --- completion ----------------------------------------------------------------------------


async def _complete(session: AsyncSession, alert: Alert, now: datetime) -> None:
    alert.completed_at = now
    await _transition(
        session, alert, AlertTransition.COMPLETE, actor=None, now=now, changes=_totals(alert)
    )


def _totals(alert: Alert) -> dict[str, Any]:
    return {"recipients": alert.recipients}


async def complete_finished_alerts(
    session: AsyncSession, now: datetime, alert_ids: Sequence[str] | None = None
) -> list[str]:
    """Marks `sending` alerts completed once none of their deliveries is still to be attempted
    (created, sending or temporary-failure); returns their ids. Safe to run from several
    workers at once: an alert is completed by whoever moves its row first."""
    if alert_ids is not None and not alert_ids:
        return []
    if alert_ids is not None:
        # Two workers recording the last batches of one alert at once would each see the
        # other's deliveries still `sending` (not yet committed) and neither complete it.
        # Locking the alert rows first orders them: the second checks once the first has
        # committed, and sees every delivery final (PostgreSQL; SQLite has one writer).
        await session.exec(
            select(Alert.id)
            .where(
                col(Alert.id).in_(sorted(alert_ids)), col(Alert.status) == AlertState.SENDING.value
            )
            .order_by(col(Alert.id))
            .with_for_update()
        )
    pending = exists().where(
        col(Delivery.alert_id) == col(Alert.id),
        col(Delivery.status).in_(UNFINISHED_DELIVERIES),
    )
    query = select(Alert.id).where(col(Alert.status) == AlertState.SENDING.value, ~pending)
    if alert_ids is not None:
        query = query.where(col(Alert.id).in_(list(alert_ids)))
    candidates = list((await session.exec(query.order_by(col(Alert.id)))).all())
    target = ALERTS.apply(AlertState.SENDING, AlertTransition.COMPLETE).value
    completed: list[str] = []
    for alert_id in candidates:
        moved = await session.exec(
            update(Alert)
            .where(col(Alert.id) == alert_id, col(Alert.status) == AlertState.SENDING.value)
            .values(
                status=target,
                completed_at=now,
                updated_at=now,
                version=col(Alert.version) + 1,
            )
        )
        if getattr(moved, "rowcount", 0) != 1:
            continue
        alert = (
            await session.exec(
                select(Alert)
                .where(col(Alert.id) == alert_id)
                .execution_options(populate_existing=True)
            )
        ).one()
        step = AlertTransition.COMPLETE
        await _record(
            session,
            alert,
            step.value,
            AUDIT_ACTIONS[step],
            from_status=AlertState.SENDING.value,
            actor=None,
            now=now,
            changes={"status": [AlertState.SENDING.value, target], **_totals(alert)},
        )
        completed.append(alert_id)
    return completed
