"""A minimal PDF writer for one-page Japanese documents: text lines in the standard Japanese
font HeiseiMin-W3 (a PDF viewer's own CJK font, not embedded), no dependency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    x: float
    y: float  # from the top of the page
    size: float = 11


def _ucs2(text: str) -> str:
    """UniJIS-UCS2-H takes big-endian UCS-2; characters beyond the BMP become '〓'."""
    units = [ord(c) if ord(c) <= 0xFFFF else 0x3013 for c in text]
    return "".join(f"{u:04X}" for u in units)


def render(lines: Sequence[Line], *, title: str) -> bytes:
    content = "\n".join(
        f"BT /F1 {line.size:g} Tf {line.x:g} {PAGE_HEIGHT - line.y:g} Td <{_ucs2(line.text)}> Tj ET"
        for line in lines
    ).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ).encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        (
            b"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiMin-W3 "
            b"/Encoding /UniJIS-UCS2-H /DescendantFonts [6 0 R] >>"
        ),
        (
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiMin-W3 "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> "
            b"/FontDescriptor 7 0 R /DW 1000 >>"
        ),
        (
            b"<< /Type /FontDescriptor /FontName /HeiseiMin-W3 /Flags 6 "
            b"/FontBBox [-123 -257 1001 910] /ItalicAngle 0 /Ascent 857 /Descent -143 "
            b"/CapHeight 718 /StemV 69 >>"
        ),
        b"<< /Title <FEFF" + _ucs2(title).encode() + b"> /Producer (cityhall e_application) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (
        len(objects) + 1,
        len(objects),
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
