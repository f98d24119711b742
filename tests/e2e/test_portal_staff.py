"""The demo portal in Debian's Chromium, as staff: TOTP logins; a case returned with the
fields to correct (the citizen sees what to fix, corrects and resubmits), a four-eyes case
sent for approval and approved by a second approver; the audit chain verified (and the audit
page switched to English and back); an alert
drafted by one member of staff and approved by another, which arrives in a subscriber's
mailbox and on the live banner of an open page."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from deploy.demo_identities import current_totp, identity
from tests.e2e.browser import PortalBrowser
from tests.e2e.conftest import Launch
from tests.e2e.mailbox import link_in, mail_to
from tests.e2e.portal_api import portal_stack, post_ok

pytestmark = pytest.mark.e2e

RESIDENT = "portal-subscriber@example.jp"
HEADLINE = "北部地区で土砂災害の危険が高まっています"
APPLICANT = {"name": "山田 太郎", "address": "デモ市中央1-1", "phone": "090-0000-1111"}
DOG = {**APPLICANT, "dog_name": "ハチ", "breed": "秋田犬", "sex": "male", "color": "白"}
DISCLOSURE = {**APPLICANT, "documents": "令和7年度 防災訓練の実施報告書", "method": "online"}


async def _citizen_applies(gateway: httpx.AsyncClient, procedure: str, form: dict[str, Any]) -> str:
    taro = identity("taro").account
    tokens = await gateway.post(
        "/auth/token",
        data={"grant_type": "password", "username": taro.email, "password": taro.password},
    )
    assert tokens.status_code == 200, tokens.text
    headers = {
        "Authorization": f"Bearer {tokens.json()['access_token']}",
        "Idempotency-Key": uuid.uuid4().hex,
    }
    body = {"procedure_code": procedure, "form": form, "submit": True}
    created = await post_ok(gateway, "/v1/applications", headers, body)
    return str(created["reference"])


async def _log_in(
    portal: PortalBrowser, user: str, *, staff: bool = True
) -> tuple[BrowserContext, Page]:
    context = await portal.context()
    page = await context.new_page()
    account = identity(user).account
    await portal.open(page, "/#/staff/login" if staff else "/#/login")
    form = page.locator("form").first
    await form.get_by_label("メールアドレス").fill(account.email)
    await form.get_by_label("パスワード").fill(account.password)
    if staff:
        await portal.check(page, "staff-login")
        await form.get_by_label("確認コード（6桁）").fill(current_totp(user)[0])
    await form.get_by_role("button", name="ログインする").click()
    await expect(page.get_by_role("link", name="ログアウト")).to_be_visible()
    return context, page


async def _open_case(portal: PortalBrowser, page: Page, reference: str) -> None:
    await portal.open(page, "/#/staff/queue")
    await page.get_by_role("link", name=reference).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(reference)


async def _return_for_correction(portal: PortalBrowser, gateway: httpx.AsyncClient) -> None:
    reference = await _citizen_applies(gateway, "dog-registration", DOG)
    context, page = await _log_in(portal, "anzen")
    await portal.check(page, "queue")
    await _open_case(portal, page, reference)
    await page.get_by_role("button", name="審査を始める").click()
    await expect(page.locator("#application-status")).to_have_attribute("data-status", "in_review")
    await page.get_by_label("phone").check()
    await page.get_by_label("申請者へのメッセージ").fill(
        "電話番号がつながりません。ご確認ください。"
    )
    await portal.check(page, "review")
    await page.get_by_role("button", name="補正を依頼する").click()
    await expect(page.locator("#application-status")).to_have_attribute("data-status", "returned")
    await context.close()

    context, page = await _log_in(portal, "taro", staff=False)
    await page.get_by_role("link", name=reference).click()
    correction = page.get_by_role("region", name="補正をお願いします")
    await expect(correction).to_contain_text("電話番号がつながりません")
    await expect(correction).to_contain_text("/phone")
    resubmit = page.locator("form[aria-labelledby='resubmit-title']")
    phone = resubmit.get_by_label("電話番号")
    await expect(phone).to_have_value(DOG["phone"])  # the form as sent, the field marked
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await portal.check(page, "correction-asked")
    await phone.fill("03-1234-5678")
    await resubmit.get_by_role("button", name="再申請する").click()  # back to the reviewer
    await expect(page.locator("#application-status")).to_have_attribute("data-status", "in_review")
    await context.close()


async def _four_eyes_approval(portal: PortalBrowser, gateway: httpx.AsyncClient) -> None:
    reference = await _citizen_applies(gateway, "info-disclosure", DISCLOSURE)
    context, page = await _log_in(portal, "auditor")
    await _open_case(portal, page, reference)
    await page.get_by_role("button", name="審査を始める").click()
    await page.get_by_role("button", name="決裁を依頼する").click()
    await expect(page.locator("#application-status")).to_have_attribute(
        "data-status", "awaiting_approval"
    )
    await portal.open(page, "/#/staff/audit")
    await page.get_by_role("button", name="改ざん検証を実行する").click()
    await expect(page.get_by_role("status")).to_contain_text("改ざんは見つかりませんでした")
    await portal.check(page, "audit")

    # The English switch re-renders the staff page in place: nav, heading, table and button.
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    await expect(page.get_by_role("link", name="Log out")).to_be_visible()
    await page.get_by_role("button", name="Verify the chain").click()
    await expect(page.get_by_role("status")).to_contain_text("No tampering found")
    await portal.check(page, "audit-english")
    await page.get_by_role("button", name="日本語").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ja")
    await context.close()

    context, page = await _log_in(portal, "admin")
    await _open_case(portal, page, reference)
    await page.get_by_role("button", name="承認する").click()
    await expect(page.locator("#application-status")).to_have_attribute("data-status", "approved")
    await context.close()


async def _subscribe(
    portal: PortalBrowser, gateway: httpx.AsyncClient, mailbox: httpx.AsyncClient
) -> Page:
    context = await portal.context()
    page = await context.new_page()
    await portal.open(page, "/#/alerts")
    await page.get_by_label("メールアドレス").fill(RESIDENT)
    await page.get_by_label("災害情報").check()
    await page.get_by_label("北部").check()
    await portal.check(page, "alert-signup")
    await page.get_by_role("button", name="登録する").click()
    await expect(page.get_by_role("status")).to_contain_text("確認メールを送りました")
    confirmation = await mail_to(mailbox, RESIDENT, "")
    token = link_in(confirmation["text"], "/v1/subscriptions/confirm").split("token=", 1)[1]
    answer = await gateway.post("/v1/subscriptions/confirm", json={"token": token})
    assert answer.status_code == 200, answer.text
    await expect(page.locator("body")).to_have_attribute("data-stream", "open")
    return page


async def _publish_alert(portal: PortalBrowser, watcher: Page, mailbox: httpx.AsyncClient) -> None:
    context, page = await _log_in(portal, "bosai")
    await portal.open(page, "/#/staff/alerts")
    composer = page.locator("form[aria-labelledby='compose-title']")
    await composer.get_by_label("分類").select_option("disaster")
    await composer.get_by_label("地区").select_option("hokubu")
    await composer.get_by_label("重大度").select_option("Severe")
    await composer.get_by_label("見出し").fill(HEADLINE)
    await composer.get_by_label("本文").fill(
        "北部地区の急傾斜地の近くにお住まいの方は、早めに避難してください。"
    )
    await portal.check(page, "alert-composer")
    await composer.get_by_role("button", name="承認を依頼する").click()
    await expect(page.get_by_role("status").first).to_contain_text("承認待ち")
    await context.close()

    context, page = await _log_in(portal, "kiki")
    await portal.open(page, "/#/staff/alerts")
    draft = page.locator("li", has_text=HEADLINE)
    await draft.get_by_role("button", name="承認して配信する").click()
    await expect(page.get_by_role("status").first).to_contain_text("1件に配信します")
    await context.close()

    banner = watcher.locator("#banner")
    await expect(banner).to_contain_text(HEADLINE)
    await portal.check(watcher, "alert-banner")
    mail = await mail_to(mailbox, RESIDENT, HEADLINE)
    assert "早めに避難してください" in mail["text"]


async def test_staff_review_approve_and_publish_an_alert(
    launch: Launch, request: pytest.FixtureRequest
) -> None:
    async with portal_stack(launch, request.node.name) as run:
        portal, gateway, mailbox = run.portal, run.gateway, run.mailbox
        await _return_for_correction(portal, gateway)
        await _four_eyes_approval(portal, gateway)
        watcher = await _subscribe(portal, gateway, mailbox)
        await _publish_alert(portal, watcher, mailbox)
