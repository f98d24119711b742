"""Who may send a call-up to a group, and who may read one (plain values, no web types).

In a disaster the crisis-management staff call up any group, so `emergency_publisher` sends to
every group; `alert_publisher` only to groups of their own department. A call-up is read by the
staff of its group's department, by whoever sent it, and by admins; to anyone else it does not
exist (404)."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

SENDER_ROLES = frozenset({"emergency_publisher", "alert_publisher", "admin"})


def may_send(roles: Set[str], department: str | None, group_department: str) -> bool:
    if "admin" in roles or "emergency_publisher" in roles:
        return True
    return "alert_publisher" in roles and department == group_department


@dataclass(frozen=True, slots=True)
class CallupReaders:
    """Which call-ups one principal may read: every one (`everything`), else those of its
    `department` or created by `sub`. The single read asks `allows`; the list's SQL filter is
    built from the same value, so the two can never disagree."""

    everything: bool
    department: str | None
    sub: str

    def allows(self, *, callup_department: str, created_by: str) -> bool:
        return self.everything or self.department == callup_department or self.sub == created_by


def readers(roles: Set[str], department: str | None, sub: str) -> CallupReaders:
    return CallupReaders(everything="admin" in roles, department=department, sub=sub)


def may_read(
    roles: Set[str],
    department: str | None,
    sub: str,
    *,
    callup_department: str,
    created_by: str,
) -> bool:
    return readers(roles, department, sub).allows(
        callup_department=callup_department, created_by=created_by
    )
