"""The printable konbini voucher: the Code 128 (GS1-128) barcode as SVG and the instructions
for every chain, in Japanese."""

from __future__ import annotations

import re
from html import escape

from services.payments_mock.domain import barcode_render, calendar
from services.payments_mock.models import Payment
from services.payments_mock.schemas import KonbiniDetails

_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", re.IGNORECASE)


def inline_svg(digits: str) -> str:
    return _PROLOGUE.sub("", barcode_render.render_svg(digits))


def render(payment: Payment, details: KonbiniDetails) -> str:
    stores = []
    for store in details.stores:
        rows = [
            f"<tr><th>{escape(store.payment_code_label)}</th>"
            f"<td class='code'>{escape(store.payment_code)}</td></tr>"
        ]
        if store.confirmation_number and store.confirmation_label:
            rows.append(
                f"<tr><th>{escape(store.confirmation_label)}</th>"
                f"<td class='code'>{escape(store.confirmation_number)}</td></tr>"
            )
        steps = "".join(f"<li>{escape(step)}</li>" for step in store.steps)
        stores.append(
            f"<section class='store' id='{escape(store.chain)}'>"
            f"<h3>{escape(store.chain_name)}</h3><table>{''.join(rows)}</table>"
            f"<ol>{steps}</ol></section>"
        )
    deadline = calendar.format_deadline_ja(payment.expires_at)
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<title>コンビニ払込票 {escape(payment.id)}</title>
<style>
body {{ font-family: sans-serif; max-width: 48rem; margin: 1rem auto; color: #111; }}
.summary th {{ text-align: left; padding-right: 1rem; }}
.barcode {{ margin: 1rem 0; padding: 0.5rem; border: 1px solid #999; background: #fff; }}
.code {{ font-family: monospace; font-size: 1.2rem; letter-spacing: 0.1em; }}
.store {{ break-inside: avoid; border-top: 1px solid #ccc; }}
@media print {{ .noprint {{ display: none; }} }}
</style>
</head>
<body>
<h1>コンビニ払込票</h1>
<table class="summary">
<tr><th>お支払い内容</th><td>{escape(payment.description)}</td></tr>
<tr><th>お支払い金額</th><td>{payment.amount:,}円</td></tr>
<tr><th>お支払い期限</th><td>{escape(deadline)}</td></tr>
<tr><th>お支払い番号</th><td class="code">{escape(payment.id)}</td></tr>
</table>
<h2>バーコード（レジでご提示ください）</h2>
<div class="barcode" data-digits="{escape(details.barcode)}">{inline_svg(details.barcode)}</div>
<p class="code">{escape(details.barcode_human_readable)}</p>
<p>バーコードを読み取れるコンビニエンスストアのレジでこの払込票をご提示ください。
番号でお支払いの場合は、下記の各店舗のお支払い方法をご覧ください。</p>
<p>お支払い期限を過ぎるとお支払いいただけません。1回のお支払いは30万円までです。</p>
<h2>店舗別のお支払い方法</h2>
{"".join(stores)}
<p class="noprint"><button onclick="window.print()">印刷する</button></p>
</body>
</html>
"""
