"""A template's states, as a table:

    active   --edit-->    active     (a new version when the subject or body changed)
    active   --archive--> archived   (no new notifications; sent ones stay readable)
    archived --restore--> active

An archived template is frozen: it is restored before it is edited or used again."""

from __future__ import annotations

from enum import StrEnum

from services.kit.state_machine import StateMachine


class TemplateState(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class TemplateTransition(StrEnum):
    EDIT = "edit"
    ARCHIVE = "archive"
    RESTORE = "restore"


_S, _T = TemplateState, TemplateTransition

TEMPLATES: StateMachine[TemplateState, TemplateTransition] = StateMachine(
    {
        (_S.ACTIVE, _T.EDIT): _S.ACTIVE,
        (_S.ACTIVE, _T.ARCHIVE): _S.ARCHIVED,
        (_S.ARCHIVED, _T.RESTORE): _S.ACTIVE,
    }
)


def state_of(archived: bool) -> TemplateState:
    return TemplateState.ARCHIVED if archived else TemplateState.ACTIVE
