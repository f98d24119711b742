"""Who may read an application (plain values, no web types): its applicant, always (drafts
too); staff of its department once it is submitted; admins every submitted one. To anyone
else it does not exist (404). The single read asks `allows`; the list's SQL filter is built
from the same value (`access_rules.read_filter`), so the two can never disagree."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

RESIDENT_KINDS = frozenset({"citizen", "business"})


@dataclass(frozen=True, slots=True)
class ApplicationReaders:
    owner: str | None  # a resident: their own applications
    department: str | None  # staff: their department's submitted applications
    everything: bool  # admin staff: every submitted application

    def allows(self, *, owner_sub: str | None, department: str, is_draft: bool) -> bool:
        if self.owner is not None and owner_sub == self.owner:
            return True
        if is_draft:
            return False
        return self.everything or (self.department is not None and self.department == department)


def readers(kind: str, roles: Set[str], department: str | None, sub: str) -> ApplicationReaders:
    if kind == "staff":
        return ApplicationReaders(owner=None, department=department, everything="admin" in roles)
    if kind in RESIDENT_KINDS:
        return ApplicationReaders(owner=sub, department=None, everything=False)
    return ApplicationReaders(owner=None, department=None, everything=False)
