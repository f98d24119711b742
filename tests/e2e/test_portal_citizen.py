"""The demo portal in Debian's Chromium, as a citizen: register, confirm the address from the
mailbox, log in, apply (the API's field errors shown next to the fields), pay the fee at the
simulated store and see the application completed; then register as a facility user, book a
slot from the month grid, pay at the store and cancel with the refund shown."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser import PortalBrowser
from tests.e2e.conftest import Launch
from tests.e2e.mailbox import link_in, mail_to
from tests.e2e.portal_api import approve_facility_user, portal_stack, post_ok, staff_headers

pytestmark = pytest.mark.e2e

EMAIL = "portal-hanako@example.jp"
PASSWORD = "sakura-no-hana-2026"
DOG = {
    "氏名": "山田 花子",
    "住所": "デモ市中央1-2-3",
    "犬の名前": "ポチ",
    "犬種": "柴犬",
    "毛色": "茶",
}


async def _register_and_verify(
    portal: PortalBrowser, page: Page, mailbox: httpx.AsyncClient
) -> None:
    await portal.open(page, "/#/register")
    await portal.check(page, "register")
    form = page.locator("form[aria-labelledby='register-title']")
    await form.get_by_label("氏名").fill("山田 花子")
    await form.get_by_label("メールアドレス").fill(EMAIL)
    await form.get_by_label("パスワード").fill(PASSWORD)
    await form.get_by_role("button", name="登録する").click()
    await expect(page.get_by_role("status")).to_contain_text("確認メールを送りました")

    mail = await mail_to(mailbox, EMAIL, "メールアドレスの確認")
    await page.goto(link_in(mail["text"], "/auth/verify-email"))
    await page.get_by_role("button", name=re.compile("メールアドレスを確認する")).click()
    await expect(page.locator("body")).to_contain_text("確認が完了しました")


async def _log_in(portal: PortalBrowser, page: Page) -> None:
    await portal.open(page, "/#/login")
    await portal.check(page, "login")
    form = page.locator("form[aria-labelledby='login-password']")
    await form.get_by_label("メールアドレス").fill(EMAIL)
    await form.get_by_label("パスワード").fill(PASSWORD)
    await form.get_by_role("button", name="ログインする").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("申請の状況")


async def _apply(portal: PortalBrowser, page: Page) -> str:
    await portal.open(page, "/#/procedures")
    await page.get_by_label("キーワード").fill("犬")
    await page.get_by_role("button", name="検索").click()
    await page.get_by_role("link", name="犬の登録申請").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("犬の登録申請")
    for label, value in DOG.items():
        await page.get_by_label(label, exact=False).first.fill(value)
    await page.get_by_label("性別").select_option(label="メス")
    phone = page.get_by_label("電話番号")
    await phone.fill("でんわ")
    await page.get_by_role("button", name="申請する").click()

    # The API's 422 names /phone: the message sits under that field, which is marked invalid.
    await expect(phone).to_have_attribute("aria-invalid", "true")
    error_id = (await phone.get_attribute("aria-describedby") or "").split()[-1]
    await expect(page.locator(f"[id='{error_id}']")).to_contain_text("does not match")
    await expect(page.get_by_role("alert")).to_contain_text("入力内容を確認してください")
    await portal.check(page, "application-form-errors")

    await phone.fill("090-1234-5678")
    await page.get_by_role("button", name="申請する").click()
    await expect(page.locator("#application-status")).to_have_attribute("data-status", "submitted")
    match = re.search(r"#/applications/(\w+)$", page.url)
    assert match is not None, page.url
    return match.group(1)


async def _pay_at_the_store(portal: PortalBrowser, page: Page) -> None:
    await page.reload()
    await page.get_by_role("button", name="お支払い手続きへ進む").click()
    await expect(page.locator(".barcode")).to_have_text(re.compile(r"^\(91\)[0-9-]+$"))
    await expect(page.get_by_role("rowheader", name="セブン-イレブン")).to_be_visible()
    await portal.check(page, "voucher")
    await page.get_by_label("お支払いする店舗").select_option(label="ローソン")
    await page.get_by_role("button", name="この店舗で支払う（シミュレーション）").click()
    await expect(page.locator("#application-status")).to_have_attribute("data-status", "completed")
    await expect(page.get_by_role("status").first).to_contain_text("手続きが完了しました")
    await portal.check(page, "application-completed")


async def _book_and_cancel(portal: PortalBrowser, page: Page, gateway: httpx.AsyncClient) -> None:
    month = (date.today().replace(day=1) + timedelta(days=40)).strftime("%Y-%m")
    await portal.open(page, f"/#/facilities/chuo-kominkan?unit=kaigishitsu-1&month={month}")
    form = page.locator("form[aria-labelledby='facility-user-title']")
    await form.get_by_label("電話番号").fill("090-1234-5678")
    await form.get_by_role("button", name="利用者登録を申し込む").click()
    await expect(page.get_by_role("status")).to_contain_text("確認中です")

    await approve_facility_user(gateway, await staff_headers(gateway, "kominkan"), EMAIL)

    await page.reload()  # the view shows the booking grid once the registration is approved
    slot = page.locator("button.slot").first
    await expect(slot).to_be_visible()
    await portal.check(page, "availability-month")
    await slot.click()
    await page.get_by_label("利用目的").fill("町内会の会合")
    await page.get_by_label("お支払い方法").select_option("konbini")
    await page.get_by_role("button", name="予約する").click()
    await expect(page.locator("#reservation-status")).to_have_attribute("data-status", "held")
    await portal.check(page, "reservation-voucher")
    await page.get_by_role("button", name="この店舗で支払う（シミュレーション）").click()
    await expect(page.locator("#reservation-status")).to_have_attribute("data-status", "confirmed")

    await page.get_by_role("button", name="予約を取り消す").click()
    await expect(page.locator("#reservation-status")).to_have_attribute("data-status", "cancelled")
    await expect(page.get_by_role("status").first).to_contain_text("返金は")
    await expect(page.locator("#refund")).to_contain_text("円")
    await portal.check(page, "reservation-cancelled")


async def test_citizen_applies_pays_at_the_store_and_books_a_facility(
    launch: Launch, request: pytest.FixtureRequest
) -> None:
    async with portal_stack(launch, request.node.name) as run:
        portal, gateway, mailbox = run.portal, run.gateway, run.mailbox
        context = await portal.context()
        page = await context.new_page()
        await portal.open(page, "/")
        await expect(page.locator("html")).to_have_attribute("lang", "ja")
        await portal.check(page, "home")

        await _register_and_verify(portal, page, mailbox)
        await _log_in(portal, page)
        application_id = await _apply(portal, page)

        staff = await staff_headers(gateway, "anzen")  # the 生活安全課 desk decides it
        await post_ok(gateway, f"/v1/applications/{application_id}/start-review", staff, {})
        await post_ok(gateway, f"/v1/applications/{application_id}/approve", staff, {})

        await _pay_at_the_store(portal, page)
        await _book_and_cancel(portal, page, gateway)
        await context.close()
