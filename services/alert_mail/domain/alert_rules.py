"""Rules an alert must satisfy besides its state machine: CAP 1.2 vocabularies, who may act
on it (department, four-eyes), expiry, and the fingerprint behind the duplicate window."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.kit.errors import Conflict, Forbidden, UnprocessableContent


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


MAX_LIFETIME = timedelta(days=366)

COMPOSERS = ("alert_publisher", "emergency_publisher")


class FourEyesViolation(Forbidden):
    slug = "four-eyes"
    title = "A second person must approve"


class DuplicateAlert(Conflict):
    slug = "duplicate-alert"
    title = "An identical alert was sent moments ago"


class AlertExpired(Conflict):
    slug = "alert-expired"
    title = "The alert has expired"


def fingerprint(
    *,
    category: str,
    districts: Sequence[str],
    msg_type: str,
    references: str | None,
    content: Mapping[str, Any],
) -> str:
    """SHA-256 of the canonical JSON of what a reader would see: equal alerts hash equally."""
    document = {
        "category": category,
        "districts": sorted(set(districts)),
        "msg_type": msg_type,
        "references": references,
        "content": content,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_expiry_at_compose(expires_at: datetime, now: datetime) -> None:
    if expires_at <= now:
        raise UnprocessableContent("expires_at must be in the future", field="expires_at")
    if expires_at - now > MAX_LIFETIME:
        raise UnprocessableContent(
            f"expires_at may be at most {MAX_LIFETIME.days} days ahead", field="expires_at"
        )


def check_not_expired(expires_at: datetime, now: datetime) -> None:
    """At approval or emergency publication: an expired alert is never sent."""
    if expires_at <= now:
        message = "the alert expired before it could be sent; edit expires_at and resubmit"
        raise AlertExpired(
            message,
            expires_at=expires_at.isoformat(),
            errors=[{"field": "expires_at", "message": message}],
        )


def check_reference_needed(msg_type: MsgType | str, references: str | None) -> None:
    kind = MsgType(msg_type)
    if kind is MsgType.ALERT and references is not None:
        raise UnprocessableContent(
            "only an Update or a Cancel references an earlier alert", field="references"
        )
    if kind is not MsgType.ALERT and references is None:
        raise UnprocessableContent(
            f"an {kind.value} must name the alert it replaces in references", field="references"
        )


def check_four_eyes(approver: str, *, created_by: str, submitted_by: str | None) -> None:
    if approver in (created_by, submitted_by):
        raise FourEyesViolation(
            "the person who wrote or submitted an alert cannot approve it;"
            " another approver must (four-eyes rule)",
            created_by=created_by,
            submitted_by=submitted_by,
        )


def may_act_for(department: str, *, staff_department: str | None, is_admin: bool) -> bool:
    """Staff act only for their own department's categories; admins for all."""
    return is_admin or staff_department == department


def duplicate_error(earlier_id: str, window_minutes: int) -> DuplicateAlert:
    return DuplicateAlert(
        f"an identical alert ({earlier_id}) was sent within the last {window_minutes} minutes",
        duplicate_of=earlier_id,
    )
