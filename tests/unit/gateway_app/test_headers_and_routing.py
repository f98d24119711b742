"""Hop-by-hop stripping and longest-prefix routing, as plain functions."""

from __future__ import annotations

from gateway.headers import strip_hop_by_hop, upstream_request_headers
from gateway.routing import RouteMatch, RouteTable


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    headers = [
        (b"Connection", b"close, X-Named"),
        (b"X-Named", b"1"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"TE", b"trailers"),
        (b"Trailer", b"X-Sum"),
        (b"Upgrade", b"websocket"),
        (b"Proxy-Authorization", b"x"),
        (b"Proxy-Custom", b"x"),
        (b"Authorization", b"Bearer t"),
        (b"Content-Length", b"3"),
    ]
    assert strip_hop_by_hop(headers) == [(b"authorization", b"Bearer t"), (b"content-length", b"3")]


def test_upstream_headers_replace_the_request_id_and_forwarding_headers() -> None:
    out = upstream_request_headers(
        [
            (b"host", b"city.example"),
            (b"x-request-id", b"old"),
            (b"x-forwarded-for", b"6.6.6.6"),
            (b"forwarded", b"for=6.6.6.6"),
        ],
        request_id="new",
        client_host="192.0.2.1",
        scheme="https",
        trust_forwarded=False,
    )
    assert out == [
        (b"x-request-id", b"new"),
        (b"x-forwarded-for", b"192.0.2.1"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"city.example"),
    ]


def test_longest_prefix_on_a_segment_boundary() -> None:
    table = RouteTable({"/v1/pay": "a", "/v1/payments": "b", "/v1/payments/refunds": "c"})
    assert table.match("/v1/payments") == RouteMatch("/v1/payments", "b")
    assert table.match("/v1/payments/pay_1") == RouteMatch("/v1/payments", "b")
    assert table.match("/v1/payments/refunds/r1") == RouteMatch("/v1/payments/refunds", "c")
    assert table.match("/v1/pay/x") == RouteMatch("/v1/pay", "a")
    assert table.match("/v1/paymentsx") is None
    assert table.match("/v1/pa") is None
    assert table.match("/") is None
