"""What an attachment is, judged from its bytes (never from the name or the client's type)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class MediaType(StrEnum):
    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"
    HTML = "text/html"  # only documents the service renders itself; never sniffed from uploads


_SIGNATURES: tuple[tuple[bytes, MediaType], ...] = (
    (b"%PDF-", MediaType.PDF),
    (b"\x89PNG\r\n\x1a\n", MediaType.PNG),
    (b"\xff\xd8\xff", MediaType.JPEG),
)
EXTENSIONS: dict[MediaType, str] = {
    MediaType.PDF: ".pdf",
    MediaType.PNG: ".png",
    MediaType.JPEG: ".jpg",
    MediaType.HTML: ".html",
}
UPLOADABLE: tuple[Literal[MediaType.PDF, MediaType.PNG, MediaType.JPEG], ...] = (
    MediaType.PDF,
    MediaType.PNG,
    MediaType.JPEG,
)


def sniff(content: bytes) -> MediaType | None:
    """The media type the content's magic bytes announce, or None for anything else."""
    for magic, media_type in _SIGNATURES:
        if content.startswith(magic):
            return media_type
    return None


def safe_filename(name: str | None, media_type: MediaType) -> str:
    """A display name without path parts or control characters, ending in the true extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*')[:120].strip(". ")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem or 'attachment'}{EXTENSIONS[media_type]}"
