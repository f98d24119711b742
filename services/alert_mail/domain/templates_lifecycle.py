"""A template's states, as a table:

    active   --edit-->    active     (a new version when the subject or body changed)
    active   --archive--> archived   (no new notifications; sent ones stay readable)
    archived --restore--> active

An archived template is frozen: it is restored before it is edited or used again."""

from __future__ import annotations

from enum import StrEnum

from services.kit.errors import IllegalTransition


class TemplateState(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class TemplateTransition(StrEnum):
    EDIT = "edit"
    ARCHIVE = "archive"
    RESTORE = "restore"


_S, _T = TemplateState, TemplateTransition

TABLE: dict[tuple[TemplateState, TemplateTransition], TemplateState] = {
    (_S.ACTIVE, _T.EDIT): _S.ACTIVE,
    (_S.ACTIVE, _T.ARCHIVE): _S.ARCHIVED,
    (_S.ARCHIVED, _T.RESTORE): _S.ACTIVE,
}


def state_of(archived: bool) -> TemplateState:
    return TemplateState.ARCHIVED if archived else TemplateState.ACTIVE


def apply(state: TemplateState, transition: TemplateTransition) -> TemplateState:
    """The state after `transition`, or 409 naming the current state."""
    target = TABLE.get((state, transition))
    if target is None:
        raise IllegalTransition(state.value, transition.value)
    return target


def allowed_transitions(state: TemplateState) -> list[TemplateTransition]:
    return [t for (s, t) in TABLE if s is state]
