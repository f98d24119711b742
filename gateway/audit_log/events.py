"""The two kinds of chained records, built as JSON in the subset the chain can hash.

An access record holds who (actor, roles, client IP), what (method, route template, target
service, status, latency) and the request id: never a body, a query string, a header or a
token. A domain event is what a service shipped, plus who shipped it and when it arrived.

Each entry carries its canonical JSON, made once when the entry is built: that text is what
the writer hashes and stores. Access records, one per request, are printed straight from
their fields (`_access_json`), the same bytes `canonical_json` gives for their dict.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from json.encoder import encode_basestring
from typing import NamedTuple

from gateway.audit_chain.canonical import (
    MAX_SAFE_INTEGER,
    JsonValue,
    canonical_json,
    rfc3339_utc,
)
from gateway.ids import new_sortable_hex_id

MAX_TEMPLATE_SEGMENTS = 12
_KEPT_SEGMENT = re.compile(r"[a-z][a-z-]{0,39}|v[0-9]{1,2}")
"""Path segments kept verbatim: lowercase words (`cancel`, `webhook-endpoints`) and API
versions (`v1`). Anything else (ids, numbers, e-mail addresses, names in other scripts)
becomes `{id}`."""


class ChainEntry(NamedTuple):
    """What the appender needs: the record as canonical JSON (hashed and stored as it is)
    plus the columns used to filter it. A tuple: cheap to build, one per request."""

    event_id: str
    kind: str
    recorded_at: datetime
    actor: str | None
    action: str
    target: str
    service: str | None
    canonical: str

    @property
    def event(self) -> dict[str, JsonValue]:
        """The record as JSON (a fresh copy each time)."""
        value: dict[str, JsonValue] = json.loads(self.canonical)
        return value


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
    event_id = f"acc_{new_sortable_hex_id()}"
    method = method.upper()
    route = route[:255]
    canonical = _access_json(
        event_id, recorded_at, actor, actor_kind, client_ip, method, route, service,
        request_id, roles, status, latency_ms,
    )  # fmt: skip
    if not canonical.isascii() and not _is_unicode(canonical):
        # A lone surrogate (from a token's claims, say) is not Unicode and cannot be hashed:
        # written as "?" rather than failing every later flush.
        return access_entry(
            recorded_at=recorded_at,
            actor=_unicode_or_none(actor),
            actor_kind=_unicode_or_none(actor_kind),
            roles=[_unicode(role) for role in roles],
            client_ip=_unicode_or_none(client_ip),
            method=_unicode(method),
            route=_unicode(route),
            service=_unicode(service),
            status=status,
            latency_ms=latency_ms,
            request_id=_unicode_or_none(request_id),
        )
    return ChainEntry(
        event_id, "access", recorded_at, actor, f"http.{method}"[:128], route, service, canonical
    )


def _access_json(
    event_id: str,
    recorded_at: datetime,
    actor: str | None,
    actor_kind: str | None,
    client_ip: str | None,
    method: str,
    route: str,
    service: str,
    request_id: str | None,
    roles: Sequence[str],
    status: int,
    latency_ms: int,
) -> str:
    """`canonical_json` of the access record's dict, printed directly (a third of the cost):
    the members in their sorted order, strings escaped by the encoder `json.dumps` uses.
    Values of any other type than expected take the general path, so the text never
    differs from it."""
    if (
        type(status) is int
        and type(latency_ms) is int
        and -MAX_SAFE_INTEGER <= status <= MAX_SAFE_INTEGER
        and -MAX_SAFE_INTEGER <= latency_ms <= MAX_SAFE_INTEGER
    ):
        try:
            return (
                f'{{"actor":{_json_text(actor)},"actor_kind":{_json_text(actor_kind)},'
                f'"client_ip":{_json_text(client_ip)},"id":"{event_id}","kind":"access",'
                f'"latency_ms":{latency_ms},"method":{encode_basestring(method)},'
                f'"recorded_at":"{rfc3339_utc(recorded_at)}",'
                f'"request_id":{_json_text(request_id)},'
                f'"roles":[{",".join([encode_basestring(role) for role in sorted(roles)])}],'
                f'"route":{encode_basestring(route)},"service":{encode_basestring(service)},'
                f'"status":{status}}}'
            )
        except TypeError:  # not a string where one belongs
            pass
    return canonical_json(
        {
            "kind": "access",
            "id": event_id,
            "recorded_at": rfc3339_utc(recorded_at),
            "actor": actor,
            "actor_kind": actor_kind,
            "roles": _strings(roles),
            "client_ip": client_ip,
            "method": method,
            "route": route,
            "service": service,
            "status": status,
            "latency_ms": latency_ms,
            "request_id": request_id,
        }
    )


def _json_text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unicode(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _unicode_or_none(text: str | None) -> str | None:
    return None if text is None else _unicode(text)


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
        canonical=canonical_json(event),
    )
