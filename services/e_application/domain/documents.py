"""Documents the city issues back: the 住民票の写し mock, as HTML and as PDF. Every one says
that the city and the document are fictional (見本)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.e_application.domain import pdf

CITY_NAME = "デモ市"
MAYOR = "デモ市長　見本　太郎"
FICTION_NOTICE = "見本：デモ市は架空の自治体です。この文書に法的効力はありません。"
SEX_JA = {"male": "男", "female": "女", "男": "男", "女": "女"}


@dataclass(frozen=True, slots=True)
class Certificate:
    title: str
    reference: str
    issued_on: date
    rows: list[tuple[str, str]]
    certification: str


def wareki(day: date) -> str:
    """令和 dates, as a Japanese certificate prints them (e.g. 令和8年11月22日)."""
    if day >= date(2019, 5, 1):
        era, year = "令和", day.year - 2018
    elif day >= date(1989, 1, 8):
        era, year = "平成", day.year - 1988
    else:
        era, year = "昭和", day.year - 1925
    return f"{era}{'元' if year == 1 else year}年{day.month}月{day.day}日"


def _date_text(value: Any) -> str:
    try:
        return wareki(date.fromisoformat(str(value)))
    except ValueError:
        return str(value or "")


def residence_certificate(
    form: Mapping[str, Any],
    signer: Mapping[str, Any] | None,
    *,
    reference: str,
    issued_on: date,
) -> Certificate:
    """住民票の写し from the request and, when the filing was signed, the card's 基本4情報."""
    info = dict(signer or {})
    name = str(info.get("name") or form.get("name") or "")
    address = str(info.get("address") or form.get("address") or "")
    birth = info.get("birth_date") or form.get("birth_date")
    sex = SEX_JA.get(str(info.get("sex") or ""), "")
    rows = [
        ("氏名", name),
        ("生年月日", _date_text(birth)),
        ("性別", sex or "（記載省略）"),
        ("住所", address),
        ("世帯主", name if form.get("include_household") else "（記載省略）"),
        (
            "本籍・筆頭者",
            "（見本のため記載なし）" if form.get("include_domicile") else "（記載省略）",
        ),
        ("住民となった日", "令和元年5月1日（見本）"),
    ]
    return Certificate(
        title="住民票の写し",
        reference=reference,
        issued_on=issued_on,
        rows=rows,
        certification="この写しは、住民票の原本と相違ないことを証明する。",
    )


def as_html(document: Certificate) -> bytes:
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in document.rows
    )
    page = f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{html.escape(document.title)}</title>
<style>body{{font-family:serif;max-width:40em;margin:2em auto}}th{{text-align:left;
padding-right:2em}}.mock{{color:#b00;border:2px solid #b00;padding:.5em}}</style></head>
<body><p class="mock">{html.escape(FICTION_NOTICE)}</p>
<h1>{html.escape(document.title)}</h1>
<table>{rows}</table>
<p>{html.escape(document.certification)}</p>
<p>{html.escape(wareki(document.issued_on))}</p>
<p>{html.escape(MAYOR)}</p>
<p>交付番号 {html.escape(document.reference)}</p>
</body></html>
"""
    return page.encode("utf-8")


def as_pdf(document: Certificate) -> bytes:
    lines = [pdf.Line(FICTION_NOTICE, 50, 50, 9), pdf.Line(document.title, 230, 100, 20)]
    y = 160.0
    for key, value in document.rows:
        lines += [pdf.Line(key, 60, y), pdf.Line(value, 200, y)]
        y += 28
    lines += [
        pdf.Line(document.certification, 60, y + 30),
        pdf.Line(wareki(document.issued_on), 60, y + 60),
        pdf.Line(MAYOR, 300, y + 90, 12),
        pdf.Line(f"交付番号 {document.reference}", 60, y + 130, 9),
    ]
    return pdf.render(lines, title=document.title)
