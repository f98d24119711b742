"""The QR code printed on posters and leaflets: it opens the sign-up page (segno)."""

from __future__ import annotations

import io

import segno

MIN_SCALE = 1
MAX_SCALE = 40  # pixels per module: about 2,000 px square, poster size


def signup_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/v1/subscriptions/signup"


def _code(url: str) -> segno.QRCode:
    # Level M survives a little dirt on a printed poster without making the code much denser.
    return segno.make_qr(url, error="m", boost_error=False)


def qr_png(url: str, scale: int) -> bytes:
    buffer = io.BytesIO()
    _code(url).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg(url: str, scale: int) -> bytes:
    buffer = io.BytesIO()
    _code(url).save(
        buffer, kind="svg", scale=scale, border=4, title="防災・防犯メール登録ページのQRコード"
    )
    return buffer.getvalue()
