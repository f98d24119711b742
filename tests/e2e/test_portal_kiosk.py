"""The kiosk page (公共情報端末 / 施設予約 touch panels): no login, large touch targets,
today's alerts and each facility's free slots today; the display switches (text size, high
contrast, English) work from the keyboard on the citizen pages; and a citizen logs in with
the demo My Number card file (the browser's WebCrypto signs the gateway's nonce) and files a
procedure that needs the card's signature, whose form shows a field only when it applies."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.browser import PHONE, portal_browser
from tests.e2e.conftest import Launch

pytestmark = pytest.mark.e2e

PURPOSE = re.compile(r"^使用目的\s*必須$")  # not 使用目的の詳細
TOUCH_TARGET_PX = 88  # twice WCAG 2.5.5's 44 px: panels are used standing, at arm's length


async def test_kiosk_display_switches_and_the_my_number_card(
    launch: Launch, request: pytest.FixtureRequest
) -> None:
    stack = await launch(["--single-process"])
    await stack.wait_ready()
    async with portal_browser(stack.gateway_url, request.node.name) as portal:
        context = await portal.context()
        page = await context.new_page()
        await portal.open(page, "/kiosk")
        await expect(page.get_by_role("heading", level=1)).to_have_text("デモ市 公共情報端末")
        await expect(page.get_by_role("heading", name="発表中のお知らせ")).to_be_visible()
        await expect(page.get_by_role("link", name="ログイン")).to_have_count(0)
        gym = page.get_by_role("button", name="総合体育館")
        box = await gym.bounding_box()
        assert box is not None
        assert box["height"] >= TOUCH_TARGET_PX, box
        await portal.check(page, "kiosk")

        await gym.click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("総合体育館")
        grid = page.get_by_role("table")
        await expect(grid).to_contain_text("午前")
        assert await grid.get_by_role("row").count() >= 2  # a header and one row per unit
        await portal.check(page, "kiosk-facility-today")
        await page.get_by_role("button", name="最初の画面に戻る").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("デモ市 公共情報端末")

        phone = await portal.context(viewport=PHONE)
        citizen = await phone.new_page()
        await portal.open(citizen, "/#/procedures")
        await citizen.keyboard.press("Tab")
        skip = citizen.get_by_role("link", name="本文へ移動")
        await expect(skip).to_be_focused()
        outline = await skip.evaluate("e => getComputedStyle(e).outlineStyle")
        assert outline != "none"  # focus is visible
        size = await citizen.evaluate("getComputedStyle(document.body).fontSize")
        await citizen.get_by_role("button", name="文字を大きく").press("Enter")
        await expect(citizen.get_by_role("button", name="文字を大きく")).to_have_attribute(
            "aria-pressed", "true"
        )
        larger = await citizen.evaluate("getComputedStyle(document.body).fontSize")
        assert float(larger.removesuffix("px")) > float(size.removesuffix("px"))
        await citizen.get_by_role("button", name="高コントラスト").press("Enter")
        await expect(citizen.locator("html")).to_have_class("large-text high-contrast")
        await portal.check(citizen, "procedures-large-high-contrast")
        await citizen.get_by_role("button", name="English").press("Enter")
        await expect(citizen.locator("html")).to_have_attribute("lang", "en")
        await expect(citizen.get_by_role("heading", level=1)).to_have_text("Find a procedure")
        await expect(citizen.get_by_role("link", name="Dog registration")).to_be_visible()
        await portal.check(citizen, "procedures-english")

        cardholder = await portal.context()
        hanako = await cardholder.new_page()
        await portal.open(hanako, "/#/login")
        card_form = hanako.locator("form[aria-labelledby='login-card']")
        card_file = stack.var_dir / "demo" / "jpki-card-hanako.json"
        await card_form.get_by_label("カードファイル").set_input_files(card_file)
        await card_form.get_by_role("button", name="ログインする").click()
        await expect(hanako.get_by_role("heading", level=1)).to_have_text("申請の状況")
        await portal.open(hanako, "/#/")
        await expect(hanako.locator("#welcome")).to_contain_text("マイナンバーカードでログイン中")

        await portal.open(hanako, "/#/procedures/residence-certificate")
        await hanako.get_by_label("氏名").fill("デモ 花子")
        await hanako.get_by_label("住所").fill("デモ市南部3-4-5")
        await hanako.get_by_label("生年月日").fill("1990-04-01")
        await hanako.get_by_label("通数").fill("1")
        detail = hanako.get_by_label("使用目的の詳細")
        await hanako.get_by_label(PURPOSE).select_option(label="その他")
        await expect(detail).to_be_visible()  # required only when the purpose is その他
        await hanako.get_by_label(PURPOSE).select_option(label="就職")
        await expect(detail).to_be_hidden()
        await hanako.get_by_label("受取方法").select_option(label="郵送")
        await hanako.get_by_role("button", name="申請する").click()
        await expect(hanako.locator("#application-status")).to_have_attribute(
            "data-status", "draft"
        )
        signing = hanako.locator("form[aria-labelledby='sign-title']")
        await signing.get_by_label("カードファイル").set_input_files(card_file)
        await portal.check(hanako, "sign-with-card")
        await signing.get_by_role("button", name="署名して申請する").click()
        await expect(hanako.locator("#application-status")).to_have_attribute(
            "data-status", "submitted"
        )
        signed = hanako.locator("#signature")
        await expect(signed).to_have_text("マイナンバーカードの署名付きで申請しました。")
