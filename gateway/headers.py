"""Header handling shared by both proxy transports: hop-by-hop stripping (RFC 9110 §7.6.1),
request ids and X-Forwarded-*. Headers are ASGI-style `(lowercase bytes, bytes)` pairs."""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from typing import Any

from gateway.ids import new_hex_id

RawHeaders = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# The front server writes its own; an upstream's copy would only duplicate them.
_RESPONSE_DROP = frozenset({b"server", b"date", b"x-request-id"})
_REQUEST_DROP = frozenset(
    {b"host", b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"}
)
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def header_value(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    named: set[bytes] = set()
    for key, value in headers:
        if key.lower() == b"connection":
            named.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(named)


def strip_hop_by_hop(
    headers: Iterable[tuple[bytes, bytes]], *, drop: frozenset[bytes] = frozenset()
) -> RawHeaders:
    """Drops hop-by-hop headers, any `Proxy-*` header, those named in `Connection`,
    and those in `drop`. Names come out lowercased."""
    pairs = [(k.lower(), v) for k, v in headers]
    named = _connection_tokens(pairs)
    return [
        (k, v)
        for k, v in pairs
        if k not in HOP_BY_HOP and k not in named and k not in drop and not k.startswith(b"proxy-")
    ]


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """A valid incoming X-Request-ID, or a fresh one."""
    incoming = header_value(headers, b"x-request-id")
    if incoming is not None and _REQUEST_ID.match(incoming):
        return incoming.decode("ascii")
    return new_hex_id()


def client_ip(scope: MutableMapping[str, Any], *, trust_forwarded: bool) -> str | None:
    """The client's address: the peer, or the first `X-Forwarded-For` entry when the
    gateway runs behind a trusted proxy."""
    if trust_forwarded:
        forwarded = header_value(scope["headers"], b"x-forwarded-for")
        if forwarded:
            first = forwarded.split(b",")[0].strip().decode("latin-1")
            if first:
                return first[:64]
    client = scope.get("client")
    return str(client[0]) if client else None


def upstream_request_headers(
    headers: Iterable[tuple[bytes, bytes]],
    *,
    request_id: str,
    client_host: str | None,
    scheme: str,
    trust_forwarded: bool,
) -> RawHeaders:
    """What goes upstream: the client's end-to-end headers (Authorization included, the
    services verify the token themselves), our request id, and X-Forwarded-*."""
    incoming = list(headers)
    # RFC 7239 `Forwarded` from an untrusted client would let it pose as another address.
    out = strip_hop_by_hop(
        incoming, drop=_REQUEST_DROP if trust_forwarded else _REQUEST_DROP | {b"forwarded"}
    )
    host = header_value(incoming, b"host")
    forwarded_for = client_host.encode() if client_host else b"unknown"
    proto = scheme.encode()
    if trust_forwarded:
        earlier = header_value(incoming, b"x-forwarded-for")
        if earlier:
            forwarded_for = earlier + b", " + forwarded_for
        proto = header_value(incoming, b"x-forwarded-proto") or proto
        host = header_value(incoming, b"x-forwarded-host") or host
    out.append((b"x-request-id", request_id.encode()))
    out.append((b"x-forwarded-for", forwarded_for))
    out.append((b"x-forwarded-proto", proto))
    if host:
        out.append((b"x-forwarded-host", host))
    return out


def downstream_response_headers(
    headers: Iterable[tuple[bytes, bytes]], *, request_id: str
) -> RawHeaders:
    out = strip_hop_by_hop(headers, drop=_RESPONSE_DROP)
    out.append((b"x-request-id", request_id.encode()))
    return out
