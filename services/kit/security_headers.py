"""Pure-ASGI middleware that gives every response the browser-facing safety headers.

Every response: `X-Content-Type-Options: nosniff` (JSON, problems, pages, streams, files).
HTML pages also: no framing (`X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`) and
`Referrer-Policy: no-referrer`, because several pages carry a token in their URL (voucher,
mailed links) that must not leak to another site. A header the app set itself is kept; a
page's own CSP without `frame-ancestors` gets it appended.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

RawHeaders = list[tuple[bytes, bytes]]

NOSNIFF = (b"x-content-type-options", b"nosniff")
FRAME_OPTIONS = (b"x-frame-options", b"DENY")
REFERRER_POLICY = (b"referrer-policy", b"no-referrer")
FRAME_ANCESTORS = b"frame-ancestors 'none'"
_CSP = b"content-security-policy"
_PAGE_TYPES = (b"text/html", b"application/xhtml+xml")


def _is_html(headers: RawHeaders) -> bool:
    for key, value in headers:
        if key.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower() in _PAGE_TYPES
    return False


def secure_headers(headers: RawHeaders) -> RawHeaders:
    """`headers` (ASGI pairs) with the safety headers added where missing."""
    present = {key.lower() for key, _ in headers}
    out = list(headers)
    if NOSNIFF[0] not in present:
        out.append(NOSNIFF)
    if not _is_html(out):
        return out
    for header in (FRAME_OPTIONS, REFERRER_POLICY):
        if header[0] not in present:
            out.append(header)
    if _CSP not in present:
        out.append((_CSP, FRAME_ANCESTORS))
        return out
    return [
        (key, _with_frame_ancestors(value) if key.lower() == _CSP else value) for key, value in out
    ]


def _with_frame_ancestors(policy: bytes) -> bytes:
    if b"frame-ancestors" in policy.lower():
        return policy
    return policy.rstrip().rstrip(b";") + b"; " + FRAME_ANCESTORS


class SecurityHeadersMiddleware:
    """Adds the headers on `http.response.start`; costs one pass over the header list."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secure_headers(list(message.get("headers", [])))}
            await send(message)

        await self.app(scope, receive, send_secured)
