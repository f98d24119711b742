"""Raw RFC 5322 bytes for a plain-text UTF-8 mail, built without `email.message` (whose
serialisation costs more than the SMTP exchange itself at 64,000 recipients).

Headers: 7-bit, non-ASCII text as RFC 2047 encoded words. Body: UTF-8 in base64 in 76-column
lines, so no line exceeds SMTP's 998-octet limit whatever the alert's paragraphs are."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from email.header import Header
from email.utils import formataddr, parseaddr

CRLF = "\r\n"


def encode_text(value: str, name: str = "Subject") -> str:
    """A header value as it goes on the wire (RFC 2047 words when needed, folded)."""
    if value.isascii() and len(value) + len(name) < 76:
        return value
    encoded = Header(value, "utf-8", header_name=name).encode(linesep=CRLF)
    return str(encoded)


def encode_address(value: str) -> tuple[str, str]:
    """('=?utf-8?b?...?= <addr>', 'addr') from 'Display Name <addr>'."""
    name, addr = parseaddr(value)
    if not addr:
        raise ValueError(f"not a mail address: {value!r}")
    return formataddr((name, addr), charset="utf-8"), addr


def header_block(headers: Iterable[tuple[str, str]]) -> str:
    """`Name: value` lines; values must already be wire-ready (see encode_text)."""
    return "".join(f"{name}: {value}{CRLF}" for name, value in headers)


TEXT_PART_HEADERS = header_block(
    (
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "base64"),
    )
)


def base64_body(text: str) -> bytes:
    """The body in base64, 76 columns, CRLF line ends."""
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def assemble(head: str, body: bytes) -> bytes:
    """Headers (each line CRLF-terminated) + the blank line + the encoded body."""
    return head.encode("utf-8") + b"\r\n" + body


def clean_header_value(value: str) -> str:
    """Stored header values never carry line breaks (no header injection)."""
    return " ".join(value.split())
