"""Identity actions as domain events in the gateway's audit chain: who acted (the account, or
the administrator), on which account, and what changed. Never a password, a one-time code, a
link or a token: `changes` holds only names, roles, reasons and methods.

An event is appended after the change's unit of work has committed (the chain's writer takes
its own connection, and on SQLite a second writer would wait on the first), and before the
answer is sent. Should that append fail, the event is queued with the access records, whose
writer retries it (deduplicated by event id)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum

from gateway.audit_log.events import domain_entry
from gateway.audit_log.store import AuditLog
from gateway.idp.tables import Account
from gateway.ids import new_sortable_hex_id
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.context import current_request_id

log = logging.getLogger("cityhall.gateway.idp")

SERVICE = "gateway"
UNKNOWN_ACCOUNT = "account:unknown"


class IdentityAction(StrEnum):
    REGISTERED = "account.registered"
    REGISTRATION_REPEATED = "account.registration_repeated"
    EMAIL_VERIFIED = "account.email_verified"
    PASSWORD_SET = "account.password_set"  # noqa: S105 - an action name
    STAFF_CREATED = "account.staff_created"
    ROLES_CHANGED = "account.roles_changed"
    DISABLED = "account.disabled"
    ENABLED = "account.enabled"
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGGED_OUT = "session.logged_out"
    SESSION_REVOKED = "session.revoked"
    REFRESH_REUSED = "session.refresh_token_reused"
    TOTP_ENROLLED = "totp.enrolled"
    CARD_LINKED = "jpki.card_linked"
    CARD_REVOKED = "jpki.card_revoked"


Actor = Principal | Account | None


class IdentityEvents:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.audit: AuditLog | None = None

    async def record(
        self,
        action: IdentityAction,
        *,
        actor: Actor,
        target: str,
        changes: Mapping[str, object] | None = None,
    ) -> None:
        if self.audit is None:
            return  # an IdP without an audit log (never in a running gateway)
        now = self.clock.now()
        sub, kind, roles = _actor_fields(actor)
        entry = domain_entry(
            event_id=f"idp_{new_sortable_hex_id()}",
            service=SERVICE,
            shipped_by=SERVICE,
            occurred_at=now,
            recorded_at=now,
            actor=sub,
            actor_kind=kind,
            roles=roles,
            action=action.value,
            target=target,
            changes=dict(changes or {}),
            request_id=current_request_id(),
        )
        try:
            await self.audit.append([entry], dedupe=True)
        except Exception:
            log.exception("identity event %s: queued for the audit writer's retry", action)
            self.audit.record_access(entry)


def _actor_fields(actor: Actor) -> tuple[str | None, str, list[str]]:
    if actor is None:
        return None, "system", []
    if isinstance(actor, Account):
        roles = list(actor.roles) if actor.kind == "staff" else []
        return actor.id, actor.kind, roles
    return actor.sub, actor.kind, sorted(actor.roles)
