"""Render konbini barcodes and read them back with a real decoder (zxing-cpp)."""

from __future__ import annotations

import io
from datetime import date

import pytest
import zxingcpp
from lxml import etree
from PIL import Image, ImageDraw

from services.payments_mock.domain.barcode_render import modules, render_svg
from services.payments_mock.domain.gs1_barcode import InvalidBarcode, KonbiniBarcode, build

SVG_NS = "{http://www.w3.org/2000/svg}"


def _slip(amount: int = 4_500) -> KonbiniBarcode:
    return build(
        company_code="912345",
        free_field="202600000042",
        deadline=date(2026, 4, 30),
        amount=amount,
    )


def _png_from_modules(pattern: str, px_per_module: int = 3, height: int = 120) -> bytes:
    """Paint a bar/space pattern with a 10-module quiet zone on each side and encode as PNG."""
    quiet = 10 * px_per_module
    image = Image.new("L", (len(pattern) * px_per_module + 2 * quiet, height), 255)
    draw = ImageDraw.Draw(image)
    for index, module in enumerate(pattern):
        if module == "1":
            left = quiet + index * px_per_module
            draw.rectangle((left, 10, left + px_per_module - 1, height - 11), fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _rasterize_svg(svg: str, px_per_mm: float) -> Image.Image:
    """Paint the SVG's black rectangles (python-barcode draws bars as mm-sized rects)."""
    root = etree.fromstring(svg.encode(), etree.XMLParser(resolve_entities=False))

    def mm(value: object) -> float:
        assert isinstance(value, str)
        assert value.endswith("mm")
        return float(value[:-2])

    width = round(mm(root.attrib["width"]) * px_per_mm)
    height = round(mm(root.attrib["height"]) * px_per_mm)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for rect in root.iter(f"{SVG_NS}rect"):
        if "fill:black" not in rect.attrib.get("style", ""):
            continue
        x, y = mm(rect.attrib["x"]) * px_per_mm, mm(rect.attrib["y"]) * px_per_mm
        w, h = mm(rect.attrib["width"]) * px_per_mm, mm(rect.attrib["height"]) * px_per_mm
        draw.rectangle((round(x), round(y), round(x + w) - 1, round(y + h) - 1), fill=0)
    return image


def _decode_one(image: Image.Image) -> zxingcpp.Barcode:
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.Code128
    return results[0]


def _assert_decodes_to(result: zxingcpp.Barcode, digits: str) -> None:
    # zxing-cpp recognises the leading FNC1: symbology identifier ]C1 (GS1-128), the raw
    # bytes are the 44 digits and the text is the GS1 human-readable form with (91).
    assert result.symbology_identifier == "]C1"
    assert result.content_type == zxingcpp.ContentType.GS1
    assert result.bytes == digits.encode("ascii")
    assert result.text == f"(91){digits[2:]}"


def test_png_painted_from_the_modules_decodes_to_the_44_digits() -> None:
    slip = _slip()
    png = _png_from_modules(modules(slip))
    _assert_decodes_to(_decode_one(Image.open(io.BytesIO(png))), slip.digits)


@pytest.mark.parametrize("amount", [1, 300_000, 999_999])
def test_svg_decodes_to_the_44_digits(amount: int) -> None:
    slip = _slip(amount)
    svg = render_svg(slip, with_text=False)
    # 0.2 mm modules at 20 px/mm give 4 px per module.
    _assert_decodes_to(_decode_one(_rasterize_svg(svg, px_per_mm=20)), slip.digits)


def test_svg_is_a_standalone_document_sized_in_mm_with_the_readable_digits() -> None:
    slip = _slip()
    svg = render_svg(slip)
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    assert svg.count('mm"') > 10
    assert slip.human_readable in svg
    assert slip.human_readable not in render_svg(slip, with_text=False)


def test_symbol_fits_the_60_mm_scanner_window() -> None:
    # start C + FNC1 + 22 digit pairs + check + stop (13 modules) = 288 modules
    assert len(modules(_slip())) == 288
    assert len(modules(_slip())) * 0.2 < 60


def test_render_accepts_the_digit_string_and_refuses_a_bad_one() -> None:
    slip = _slip()
    assert render_svg(slip.digits) == render_svg(slip)
    with pytest.raises(InvalidBarcode):
        render_svg(slip.digits[:-1] + str((int(slip.digits[-1]) + 1) % 10))


def test_render_refuses_silly_sizes() -> None:
    with pytest.raises(ValueError, match="module_mm"):
        render_svg(_slip(), module_mm=0.01)
    with pytest.raises(ValueError, match="height_mm"):
        render_svg(_slip(), height_mm=500)
