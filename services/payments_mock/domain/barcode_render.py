"""Draw a konbini barcode as GS1-128: Code 128 whose first data character is FNC1.

python-barcode's `Gs1_128` prepends FNC1 itself and then packs the 44 digits into 22 Code Set C
pairs, so a scanner reads the AI-prefixed digits and knows the symbol is GS1. With the default
0.2 mm module the 288-module symbol is 57.6 mm wide, inside the 60 mm a store scanner's window
takes (https://rolan.co.jp/shouhin/s_sakurabarcode5_ue.html); quiet zones of 10 modules are
added on each side as GS1-128 requires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.payments_mock.domain.gs1_barcode import KonbiniBarcode, parse

DEFAULT_MODULE_MM = 0.2
DEFAULT_HEIGHT_MM = 10.0
QUIET_ZONE_MODULES = 10

if TYPE_CHECKING:
    from barcode import Gs1_128


def _symbol(barcode: KonbiniBarcode | str) -> tuple[KonbiniBarcode, Gs1_128]:
    from barcode import Gs1_128  # with PIL behind it: imported at the first drawing
    from barcode.writer import SVGWriter

    slip = barcode if isinstance(barcode, KonbiniBarcode) else parse(barcode)
    return slip, Gs1_128(slip.digits, writer=SVGWriter())


def modules(barcode: KonbiniBarcode | str) -> str:
    """The symbol as '1' (bar) and '0' (space) modules, without quiet zones."""
    _, symbol = _symbol(barcode)
    pattern: str = symbol.build()[0]
    return pattern


def render_svg(
    barcode: KonbiniBarcode | str,
    *,
    module_mm: float = DEFAULT_MODULE_MM,
    height_mm: float = DEFAULT_HEIGHT_MM,
    with_text: bool = True,
) -> str:
    """A standalone SVG document (sizes in mm) for a printable voucher.

    With `with_text` the human-readable digits, grouped by field, are printed under the bars.
    """
    if not 0.1 <= module_mm <= 1.0:
        raise ValueError("module_mm must be between 0.1 and 1.0")
    if not 5.0 <= height_mm <= 50.0:
        raise ValueError("height_mm must be between 5 and 50")
    slip, symbol = _symbol(barcode)
    options = {
        "module_width": module_mm,
        "module_height": height_mm,
        "quiet_zone": QUIET_ZONE_MODULES * module_mm,
        "font_size": 8,
        "text_distance": 3.0,
        "write_text": with_text,
    }
    svg: bytes = symbol.render(options, slip.human_readable if with_text else None)
    return svg.decode("utf-8")
