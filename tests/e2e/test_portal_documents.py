"""The demo portal in Debian's Chromium: a 住民票の写し request from form to issued document.
Forms in English show the catalogue's English field titles and choices, and the API's
field errors still land next to their fields; in Japanese the citizen (logged in with the
demo My Number card) applies and signs; two members of 市民課 decide it (four eyes) and
render the certificate; the citizen pays at the simulated store from the voucher, whose drawn
GS1-128 barcode a decoder reads back; then, from "my applications", downloads the issued
certificate, as PDF and as HTML with the reference number."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Download, Page, expect

from tests.e2e.browser import PortalBrowser
from tests.e2e.conftest import Launch
from tests.e2e.portal_api import portal_stack, post_ok, staff_headers

pytestmark = pytest.mark.e2e

PROCEDURE = "residence-certificate"
PURPOSE = re.compile(r"^使用目的\s*必須$")  # not 使用目的の詳細
SCALE = 4  # the barcode drawn four times larger for the decoder: SVG stays sharp

# The image as the page loaded it, drawn on a canvas (same origin, so it can be read back).
DRAW_IMAGE = """(img, scale) => {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth * scale;
  canvas.height = img.naturalHeight * scale;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(img, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/png");
}"""


async def _card_login(portal: PortalBrowser, page: Page, card_file: Path) -> None:
    await portal.open(page, "/#/login")
    card_form = page.locator("form[aria-labelledby='login-card']")
    await card_form.get_by_label("カードファイル").set_input_files(card_file)
    await card_form.get_by_role("button", name="ログインする").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("申請の状況")


async def _english_forms(portal: PortalBrowser, page: Page) -> None:
    """With the English switch: the catalogue's English titles and choices (a conditional
    field still follows its condition), and the API's field error still lands next to its
    field (/phone of a dog registration, which is validated when it is filed)."""
    await portal.open(page, f"/#/procedures/{PROCEDURE}")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Certificate of residence (copy)"
    )
    form = page.locator("form[aria-labelledby='procedure-title']")
    for label in ("Address", "Date of birth", "Number of copies", "How to receive it"):
        await expect(form.get_by_label(label)).to_be_visible()
    purpose = form.get_by_label(re.compile(r"^Purpose"))
    await expect(purpose.locator("option")).to_have_text(
        ["Choose", "Employment", "Pension", "Other procedures", "Other"]
    )
    detail = form.get_by_label("Details of the purpose")
    await purpose.select_option(label="Other")
    await expect(detail).to_be_visible()
    await purpose.select_option(label="Employment")
    await expect(detail).to_be_hidden()
    await expect(form).not_to_contain_text("氏名")
    await portal.check(page, "application-form-english")

    await portal.open(page, "/#/procedures/dog-registration")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dog registration")
    await page.get_by_label(re.compile(r"^Name\s*required$")).fill("Demo Hanako")
    await page.get_by_label(re.compile(r"^Address")).fill("デモ市南部3-4-5")
    await page.get_by_label("Dog's name").fill("Pochi")
    await page.get_by_label("Breed").fill("Shiba")
    await page.get_by_label("Coat colour").fill("brown")
    await page.get_by_label(re.compile(r"^Sex")).select_option(label="Female")
    phone = page.get_by_label("Phone number")
    await phone.fill("でんわ")
    await page.get_by_role("button", name="Apply").click()
    await expect(phone).to_have_attribute("aria-invalid", "true")  # the API named /phone
    error_id = (await phone.get_attribute("aria-describedby") or "").split()[-1]
    await expect(page.locator(f"[id='{error_id}']")).to_contain_text("does not match")
    await expect(page.get_by_role("alert")).to_contain_text("Please check")
    await portal.check(page, "application-form-errors-english")
    await page.get_by_role("button", name="日本語").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ja")
    await portal.open(page, f"/#/procedures/{PROCEDURE}")
    await expect(page.get_by_label("通数")).to_be_visible()


async def _apply_and_sign(page: Page, card_file: Path) -> str:
    await page.get_by_label("氏名").fill("デモ 花子")
    await page.get_by_label("住所").fill("デモ市南部3-4-5")
    await page.get_by_label("生年月日").fill("1990-04-01")
    await page.get_by_label("通数").fill("2")
    await page.get_by_label(PURPOSE).select_option(label="就職")
    await page.get_by_label("受取方法").select_option(label="郵送")
    await page.get_by_role("button", name="申請する").click()
    await expect(page.locator("#application-status")).to_have_attribute("data-status", "draft")
    signing = page.locator("form[aria-labelledby='sign-title']")
    await signing.get_by_label("カードファイル").set_input_files(card_file)
    await signing.get_by_role("button", name="署名して申請する").click()
    status = page.locator("#application-status")
    await expect(status).to_have_attribute("data-status", "submitted")
    match = re.search(r"#/applications/(\w+)$", page.url)
    assert match is not None, page.url
    return match.group(1)


async def _decide_and_render(
    gateway: httpx.AsyncClient, application_id: str
) -> list[dict[str, str]]:
    """市民課: one member reviews and asks for approval, the 課長 approves, the certificate is
    rendered (HTML and PDF); the applicant reads it once the fee is paid."""
    clerk = await staff_headers(gateway, "shimin")
    case = f"/v1/applications/{application_id}"
    await post_ok(gateway, f"{case}/start-review", clerk, {})
    await post_ok(gateway, f"{case}/request-approval", clerk, {})
    approver = await staff_headers(gateway, "shimin-kacho")
    approved = await post_ok(gateway, f"{case}/approve", approver, {})
    assert approved["status"] in ("approved", "awaiting_payment"), approved
    answer = await gateway.post(f"{case}/documents/render", json={}, headers=clerk)
    assert answer.status_code == 201, answer.text
    rendered: list[dict[str, str]] = answer.json()
    return rendered


async def _pay_from_the_voucher(portal: PortalBrowser, page: Page) -> None:
    await page.reload()
    await page.get_by_role("button", name="お支払い手続きへ進む").click()
    voucher = page.locator("section[aria-labelledby='voucher-konbini']")
    digits = await voucher.locator(".barcode").inner_text()
    assert re.fullmatch(r"\(91\)[0-9-]+", digits), digits
    image = voucher.get_by_role("img", name=re.compile("バーコード"))
    await expect(image).to_have_attribute("alt", re.compile("GS1-128"))
    await expect(image).to_have_js_property("complete", True)
    assert await image.evaluate("img => img.naturalWidth") > 0, "the barcode image did not load"
    png = await image.evaluate(DRAW_IMAGE, SCALE)
    picture = Image.open(io.BytesIO(base64.b64decode(png.split(",", 1)[1])))
    [read] = zxingcpp.read_barcodes(picture)
    assert read.symbology_identifier == "]C1"  # GS1-128
    only_digits = re.compile(r"[^0-9]")
    assert only_digits.sub("", read.text) == only_digits.sub("", digits)  # as printed under it
    await portal.check(page, "voucher-drawn-barcode")
    await page.get_by_label("お支払いする店舗").select_option(label="ファミリーマート")
    await page.get_by_role("button", name="この店舗で支払う（シミュレーション）").click()
    await expect(page.locator("#application-status")).to_have_attribute("data-status", "completed")


async def _download_documents(
    portal: PortalBrowser, page: Page, reference: str, rendered: list[dict[str, str]]
) -> None:
    await portal.open(page, "/#/applications")
    await page.get_by_role("link", name=reference).click()
    documents = page.get_by_role("region", name="交付された書類")
    buttons = documents.get_by_role("button")
    await expect(buttons).to_have_count(2)
    await portal.check(page, "issued-documents")
    by_type = {d["media_type"].split(";")[0]: d for d in rendered}
    pdf_button = documents.get_by_role("button", name="「住民票の写し（PDF）」をダウンロード")
    async with page.expect_download() as pdf_download:
        await pdf_button.click()
    pdf = (await pdf_download.value).suggested_filename, await _bytes(await pdf_download.value)
    assert pdf[0].endswith(".pdf"), pdf[0]
    assert pdf[1].startswith(b"%PDF-")
    assert hashlib.sha256(pdf[1]).hexdigest() == by_type["application/pdf"]["sha256"]
    html_button = documents.get_by_role("button", name="「住民票の写し（HTML）」をダウンロード")
    async with page.expect_download() as html_download:
        await html_button.click()
    html = (await html_download.value).suggested_filename, await _bytes(await html_download.value)
    assert html[0].endswith(".html"), html[0]
    assert f"交付番号 {reference}" in html[1].decode("utf-8")
    assert hashlib.sha256(html[1]).hexdigest() == by_type["text/html"]["sha256"]


async def _bytes(download: Download) -> bytes:
    path = await download.path()
    return await asyncio.to_thread(Path(path).read_bytes)


async def test_citizen_pays_a_certificate_from_the_drawn_barcode_and_downloads_it(
    launch: Launch, request: pytest.FixtureRequest
) -> None:
    async with portal_stack(launch, request.node.name) as run:
        portal, gateway = run.portal, run.gateway
        card_file = run.stack.var_dir / "demo" / "jpki-card-hanako.json"
        context = await portal.context()
        page = await context.new_page()
        await _card_login(portal, page, card_file)
        await _english_forms(portal, page)
        application_id = await _apply_and_sign(page, card_file)
        reference = await page.locator("dl.facts dd").first.inner_text()
        rendered = await _decide_and_render(gateway, application_id)
        await _pay_from_the_voucher(portal, page)
        await _download_documents(portal, page, reference, rendered)
        await context.close()
