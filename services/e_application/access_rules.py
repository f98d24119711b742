"""Who may read an application: one rule, used both to decide a single read and to build the
SQL filter of a list (so the two can never disagree)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false
from sqlmodel import col

from services.e_application.models import Application
from services.kit.auth import Principal


def is_staff_of(principal: Principal, department: str) -> bool:
    return principal.kind == "staff" and (
        principal.department == department or "admin" in principal.roles
    )


def is_owner(principal: Principal | None, application: Application) -> bool:
    return (
        principal is not None
        and principal.kind in ("citizen", "business")
        and application.owner_sub is not None
        and application.owner_sub == principal.sub
    )


def may_read(principal: Principal | None, application: Application) -> bool:
    if principal is None:
        return False
    return is_owner(principal, application) or is_staff_of(principal, application.department)


def read_filter(principal: Principal) -> Any:
    """The WHERE clause equivalent of `may_read` for this principal."""
    if principal.kind == "staff":
        if "admin" in principal.roles:
            return col(Application.id).is_not(None)
        if principal.department is None:
            return false()
        return col(Application.department) == principal.department
    if principal.kind in ("citizen", "business"):
        return col(Application.owner_sub) == principal.sub
    return false()
