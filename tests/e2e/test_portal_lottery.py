"""The demo portal in Debian's Chromium, a facility lottery (抽選) as a citizen: the facility
page lists the open round, the round page asks for the facility-user registration first, the
citizen enters a slot and sees it awaiting the draw; the facility's staff draw once the entry
window has closed (on the suite's simulated clock); the citizen sees the win, confirms it into
a reservation and pays it with Pay-easy at the simulated ATM. The citizen logs in with the
かんたん link mailed to the address."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page, expect

from deploy.demo_identities import identity
from deploy.testing.clock import SimClock
from tests.e2e.browser import PHONE, PortalBrowser
from tests.e2e.conftest import Launch
from tests.e2e.mailbox import link_in, mail_to
from tests.e2e.portal_api import approve_facility_user, portal_stack, post_ok, staff_headers

pytestmark = pytest.mark.e2e

JST = ZoneInfo("Asia/Tokyo")
FACILITY = "chuo-kominkan"
UNIT = "kaigishitsu-1"


async def _open_round(gateway: httpx.AsyncClient, clock: SimClock, staff: dict[str, str]) -> str:
    """A round for the month after next whose entry window is open now and closes in minutes;
    its scheduled draw is a day later, so only the staff's draw can draw it in this test."""
    now = await clock.now()
    first = now.astimezone(JST).date().replace(day=1)
    target = (first + timedelta(days=62)).replace(day=1)
    body = {
        "facility_code": FACILITY,
        "target_month": target.strftime("%Y-%m"),
        "title_ja": f"中央公民館 {target.month}月分の抽選",
        "unit_codes": [UNIT],
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(minutes=2)).isoformat(),
        "draw_at": (now + timedelta(days=1)).isoformat(),  # the staff draw it before the job
        "confirm_by": (now + timedelta(days=3)).isoformat(),
        "first_come_opens_at": (now + timedelta(days=4)).isoformat(),
    }
    round_ = await post_ok(gateway, "/v1/lotteries", staff, body)
    return str(round_["id"])


async def _a_lottery_cell(gateway: httpx.AsyncClient, month: str) -> dict[str, Any]:
    """The first day and slot of the round's month that the lottery holds (not a closed day)."""
    year, m = (int(part) for part in month.split("-"))
    answer = await gateway.get(
        f"/v1/facilities/{FACILITY}/availability",
        params={"unit": UNIT, "from": f"{month}-01", "to": f"{month}-28"},
    )
    assert answer.status_code == 200, answer.text
    for day in answer.json()["days"]:
        for cell in day["cells"]:
            if cell["state"] == "lottery":
                return {"day": day["day"], "slot_code": cell["slot_code"]}
    raise AssertionError(f"no lottery cell in {year}-{m:02d}: {answer.text}")


async def _log_in_by_mail_link(
    portal: PortalBrowser, page: Page, mailbox: httpx.AsyncClient, email: str
) -> None:
    """かんたんログイン: the link mailed to the address, pasted into the portal."""
    await portal.open(page, "/#/login")
    ask = page.locator("form[aria-labelledby='login-email']")
    await ask.get_by_label("メールアドレス").fill(email)
    await ask.get_by_role("button", name="ログイン用リンクを送る").click()
    await expect(ask.get_by_role("status")).to_contain_text("ログイン用のリンクを送りました")
    mail = await mail_to(mailbox, email, "かんたんログイン")
    use = page.locator("form[aria-labelledby='login-email-use']")
    await use.get_by_label("メールに記載のリンク").fill(link_in(mail["text"], "/auth/email-login"))
    await use.get_by_role("button", name="ログインする").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("申請の状況")


async def _register_for_facilities(
    page: Page, gateway: httpx.AsyncClient, staff: dict[str, str], email: str
) -> None:
    form = page.locator("form[aria-labelledby='facility-user-title']")
    await form.get_by_label("電話番号").fill("090-2222-3333")
    await form.get_by_role("button", name="利用者登録を申し込む").click()
    await expect(page.get_by_role("status")).to_contain_text("確認中です")
    await approve_facility_user(gateway, staff, email)
    await page.reload()


async def test_citizen_enters_a_lottery_wins_confirms_and_pays(
    launch: Launch, request: pytest.FixtureRequest
) -> None:
    email = identity("taro").account.email
    async with portal_stack(launch, request.node.name) as run:
        portal, gateway, mailbox = run.portal, run.gateway, run.mailbox
        staff = await staff_headers(gateway, "kominkan")
        admin = httpx.AsyncClient(
            base_url=run.stack.gateway_url,
            timeout=30,
            trust_env=False,
            headers=await staff_headers(gateway, "admin"),
        )
        async with admin:
            clock = SimClock(admin)
            round_id = await _open_round(gateway, clock, staff)
            round_ = (await gateway.get(f"/v1/lotteries/{round_id}")).json()
            cell = await _a_lottery_cell(gateway, round_["target_month"])

            context = await portal.context()
            page = await context.new_page()
            await _log_in_by_mail_link(portal, page, mailbox, email)
            await portal.open(page, f"/#/facilities/{FACILITY}")
            await page.get_by_role("link", name=round_["title_ja"]).click()
            await expect(page.get_by_role("heading", level=1)).to_have_text(round_["title_ja"])
            await expect(page.locator("#round-status")).to_have_text("受付中")
            await _register_for_facilities(page, gateway, staff, email)

            entry_form = page.locator("form[aria-labelledby='enter-title']")
            await expect(entry_form).to_be_visible()
            await portal.check(page, "lottery-round")
            await entry_form.get_by_label("部屋・面").select_option(UNIT)
            await entry_form.get_by_label("日付").fill(cell["day"])
            await entry_form.get_by_label("時間帯").select_option(cell["slot_code"])
            await entry_form.get_by_role("button", name="この内容で申し込む").click()
            await expect(page.get_by_role("status").first).to_contain_text("抽選に申し込みました")
            entry = page.locator("li.entry")
            await expect(entry).to_have_attribute("data-status", "entered")
            await expect(entry).to_contain_text(cell["day"])
            await expect(entry.locator(".entry-status")).to_have_text("抽選待ち")
            await portal.check(page, "lottery-entered")

            await clock.advance(timedelta(minutes=3))  # past closes_at: the window is shut
            drawn = await post_ok(gateway, f"/v1/lotteries/{round_id}/draw", staff, {})
            assert drawn["status"] == "drawn", drawn

            await page.reload()
            await expect(page.locator("#round-status")).to_have_text("抽選済み")
            await expect(entry).to_have_attribute("data-status", "won")
            await expect(entry.locator(".entry-status")).to_have_text("当選")
            await expect(page.locator("dd.hash")).to_have_count(2)  # commitment and seed
            await portal.check(page, "lottery-won")

            await entry.get_by_label("お支払い方法").select_option("payeasy")
            await entry.get_by_role("button", name="予約を確定する").click()
            status = page.locator("#reservation-status")
            await expect(status).to_have_attribute("data-status", "held")
            payeasy = page.locator("section[aria-labelledby='voucher-payeasy']")
            await expect(payeasy.locator("dd.number")).to_have_count(3)
            await expect(payeasy.locator("dd.number").first).to_have_text(re.compile(r"^[0-9]{5}$"))
            await portal.check(page, "lottery-payeasy-voucher")
            await payeasy.get_by_role("button", name="ATMで支払う（シミュレーション）").click()
            await expect(status).to_have_attribute("data-status", "confirmed")

            await portal.open(page, f"/#/lotteries/{round_id}")
            await expect(entry).to_have_attribute("data-status", "confirmed")
            await expect(entry.get_by_role("link", name="予約の詳細を見る")).to_be_visible()
            await portal.check(page, "lottery-confirmed")
            await portal.open(page, "/#/lotteries")  # my results across rounds
            result = page.locator(".my-results li")
            await expect(result).to_have_attribute("data-status", "confirmed")
            site = (await gateway.get(f"/v1/facilities/{FACILITY}")).json()
            unit = next(u["name_ja"] for u in site["units"] if u["code"] == UNIT)
            slot = next(s["label_ja"] for s in site["slots"] if s["code"] == cell["slot_code"])
            await expect(result).to_have_text(f"{cell['day']} {unit} {slot}: 当選・予約確定済み")
            await context.close()

            phone = await portal.context(viewport=PHONE)
            phone_page = await phone.new_page()
            await portal.open(phone_page, "/#/lotteries")
            await expect(phone_page.get_by_role("link", name=round_["title_ja"])).to_be_visible()
            # A newcomer also finds the round the demo seed opened, taking entries.
            seeded = phone_page.locator("#rounds-title + ul > li", has_text="北部公民館")
            await expect(seeded.get_by_role("link")).to_have_text(re.compile(r"月分の抽選$"))
            await expect(seeded.locator(".meta")).to_have_text("受付中")
            await portal.check(phone_page, "lotteries-phone")
            await phone.close()
