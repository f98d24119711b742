"""The two kinds of chained records, built as JSON in the subset the chain can hash.

An access record holds who (actor, roles, client IP), what (method, route template, target
service, status, latency) and the request id: never a body, a query string, a header or a
token. A domain event is what a service shipped, plus who shipped it and when it arrived.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.audit_chain.canonical import MAX_SAFE_INTEGER, JsonValue, rfc3339_utc
from gateway.ids import new_hex_id

MAX_TEMPLATE_SEGMENTS = 12
_KEPT_SEGMENT = re.compile(r"[a-z][a-z-]{0,39}|v[0-9]{1,2}")
"""Path segments kept verbatim: lowercase words (`cancel`, `webhook-endpoints`) and API
versions (`v1`). Anything else (ids, numbers, e-mail addresses, names in other scripts)
becomes `{id}`."""


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """What the appender needs: the event plus the columns used to filter it."""

    event_id: str
    kind: str
    recorded_at: datetime
    actor: str | None
    action: str
    target: str
    service: str | None
    event: dict[str, JsonValue]


def mask_path(path: str) -> str:
    """`/v1/payments/pay_01H/refund` → `/v1/payments/{id}/refund` (see `_KEPT_SEGMENT`)."""
    segments = [s for s in path.split("/") if s]
    masked = [s if _KEPT_SEGMENT.fullmatch(s) else "{id}" for s in segments]
    if len(masked) > MAX_TEMPLATE_SEGMENTS:
        masked = [*masked[:MAX_TEMPLATE_SEGMENTS], "..."]
    return "/" + "/".join(masked)


def route_template(prefix: str, path: str) -> str:
    """The routing prefix as configured, then the rest of the path masked."""
    rest = path[len(prefix) :]
    if not rest.strip("/"):
        return prefix
    return prefix + mask_path(rest)


def json_safe(value: object) -> JsonValue:
    """Shipped values made hashable: floats and out-of-range integers become their decimal
    strings (so no event is refused for a number), other non-JSON values their `str`."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)


def _strings(values: Sequence[str]) -> list[JsonValue]:
    return [str(v) for v in sorted(values)]


def access_entry(
    *,
    recorded_at: datetime,
    actor: str | None,
    actor_kind: str | None,
    roles: Sequence[str],
    client_ip: str | None,
    method: str,
    route: str,
    service: str,
    status: int,
    latency_ms: int,
    request_id: str | None,
) -> ChainEntry:
    event_id = f"acc_{new_hex_id()}"
    action = f"http.{method.upper()}"[:128]
    event: dict[str, JsonValue] = {
        "kind": "access",
        "id": event_id,
        "recorded_at": rfc3339_utc(recorded_at),
        "actor": actor,
        "actor_kind": actor_kind,
        "roles": _strings(roles),
        "client_ip": client_ip,
        "method": method.upper(),
        "route": route[:255],
        "service": service,
        "status": status,
        "latency_ms": latency_ms,
        "request_id": request_id,
    }
    return ChainEntry(
        event_id=event_id,
        kind="access",
        recorded_at=recorded_at,
        actor=actor,
        action=action,
        target=route[:255],
        service=service,
        event=event,
    )


def domain_entry(
    *,
    event_id: str,
    service: str,
    shipped_by: str,
    occurred_at: datetime,
    recorded_at: datetime,
    actor: str | None,
    actor_kind: str,
    roles: Sequence[str],
    action: str,
    target: str,
    changes: Mapping[str, object],
    request_id: str | None,
) -> ChainEntry:
    event: dict[str, JsonValue] = {
        "kind": "domain",
        "id": event_id,
        "service": service,
        "shipped_by": shipped_by,
        "occurred_at": rfc3339_utc(occurred_at),
        "recorded_at": rfc3339_utc(recorded_at),
        "actor": actor,
        "actor_kind": actor_kind,
        "roles": _strings(roles),
        "action": action,
        "target": target,
        "changes": json_safe(dict(changes)),
        "request_id": request_id,
    }
    return ChainEntry(
        event_id=event_id,
        kind="domain",
        recorded_at=recorded_at,
        actor=actor,
        action=action,
        target=target,
        service=service,
        event=event,
    )
