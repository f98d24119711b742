"""The read rule of applications (`domain.application_access`) applied to a principal: one
decision for a single row, and the SQL filter of a list built from the same value."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, or_
from sqlmodel import col

from services.e_application.domain.application_access import ApplicationReaders, readers
from services.e_application.domain.lifecycle import Status
from services.e_application.models import Application
from services.kit.auth import Principal


def readers_of(principal: Principal) -> ApplicationReaders:
    return readers(principal.kind, principal.roles, principal.department, principal.sub)


def may_read(principal: Principal | None, application: Application) -> bool:
    if principal is None:
        return False
    return readers_of(principal).allows(
        owner_sub=application.owner_sub,
        department=application.department,
        is_draft=application.status == Status.DRAFT,
    )


def read_filter(principal: Principal) -> Any:
    """The WHERE clause equivalent of `may_read` for this principal."""
    rule = readers_of(principal)
    clauses = []
    if rule.owner is not None:
        clauses.append(col(Application.owner_sub) == rule.owner)
    submitted = col(Application.status) != Status.DRAFT.value
    if rule.everything:
        clauses.append(submitted)
    elif rule.department is not None:
        clauses.append((col(Application.department) == rule.department) & submitted)
    return or_(*clauses) if clauses else false()


def is_owner(principal: Principal | None, application: Application) -> bool:
    if principal is None:
        return False
    owner = readers_of(principal).owner
    return owner is not None and application.owner_sub == owner


def is_staff_of(principal: Principal, department: str) -> bool:
    """Staff of `department` (or an admin): who works the case once it is submitted."""
    rule = readers_of(principal)
    return rule.everything or (rule.department is not None and rule.department == department)
