"""The demo portal in Debian's Chromium, キャンセル待ち: a slot another resident booked shows a
waitlist button in the month grid; the citizen joins, sees the entry waiting first in line
under "my reservations"; the holder cancels, the slot is offered to the citizen (held until
the offer expires), who takes it from the same page and lands on the new reservation."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
import pytest
from playwright.async_api import expect

from deploy.demo_identities import identity
from tests.e2e.conftest import Launch
from tests.e2e.portal_api import approve_facility_user, portal_stack, post_ok, staff_headers

pytestmark = pytest.mark.e2e

FACILITY = "chuo-kominkan"
UNIT = "kaigishitsu-2"
SLOT = "night"


def _keyed(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


async def _login(gateway: httpx.AsyncClient, user: str) -> dict[str, str]:
    account = identity(user).account
    tokens = await gateway.post(
        "/auth/token",
        data={"grant_type": "password", "username": account.email, "password": account.password},
    )
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


async def _a_free_day(gateway: httpx.AsyncClient, month: str) -> str:
    answer = await gateway.get(
        f"/v1/facilities/{FACILITY}/availability",
        params={"unit": UNIT, "from": f"{month}-01", "to": f"{month}-28"},
    )
    assert answer.status_code == 200, answer.text
    for day in answer.json()["days"]:
        if any(c["slot_code"] == SLOT and c["state"] == "free" for c in day["cells"]):
            return str(day["day"])
    raise AssertionError(f"no free {SLOT} in {month}: {answer.text}")


async def _holder_books(
    gateway: httpx.AsyncClient, staff: dict[str, str], day: str
) -> tuple[dict[str, str], str]:
    """taro, a registered facility user, books the evening (API); returns his login and the
    reservation."""
    taro = await _login(gateway, "taro")
    account = identity("taro").account
    registration = {
        "applicant_type": "individual",
        "name": account.display_name,
        "email": account.email,
        "residency": "resident",
        "residency_basis": "living",
    }
    await post_ok(gateway, "/v1/facility-users", _keyed(taro), registration)
    await approve_facility_user(gateway, staff, account.email)
    booking = {
        "facility_code": FACILITY,
        "unit_code": UNIT,
        "day": day,
        "slot_code": SLOT,
        "purpose": "合唱の練習",
        "payment_method": "counter",
    }
    held = await post_ok(gateway, "/v1/reservations", _keyed(taro), booking)
    return taro, str(held["id"])


async def test_citizen_joins_the_waitlist_and_takes_the_offer(
    launch: Launch, request: pytest.FixtureRequest
) -> None:
    async with portal_stack(launch, request.node.name) as run:
        portal, gateway = run.portal, run.gateway
        staff = await staff_headers(gateway, "kominkan")
        month = (date.today().replace(day=1) + timedelta(days=40)).strftime("%Y-%m")
        day = await _a_free_day(gateway, month)
        taro, reservation_id = await _holder_books(gateway, staff, day)

        hanako = identity("hanako").account
        context = await portal.context()
        page = await context.new_page()
        await portal.open(page, "/#/login")
        login = page.locator("form[aria-labelledby='login-password']")
        await login.get_by_label("メールアドレス").fill(hanako.email)
        await login.get_by_label("パスワード").fill(hanako.password)
        await login.get_by_role("button", name="ログインする").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("申請の状況")

        await portal.open(page, f"/#/facilities/{FACILITY}?unit={UNIT}&month={month}")
        form = page.locator("form[aria-labelledby='facility-user-title']")
        await form.get_by_label("電話番号").fill("090-5555-6666")
        await form.get_by_role("button", name="利用者登録を申し込む").click()
        await expect(page.get_by_role("status")).to_contain_text("確認中です")
        await approve_facility_user(gateway, staff, hanako.email)
        await page.reload()

        taken = page.locator(f"td[data-day='{day}'][data-slot='{SLOT}']")
        await expect(taken).to_have_attribute("data-state", "held")
        join = taken.get_by_role("button", name="キャンセル待ちに登録する")
        await expect(join).to_be_visible()
        await portal.check(page, "waitlist-grid")
        await join.click()
        panel = page.locator("form[aria-labelledby='wait-title']")
        await expect(panel).to_contain_text(day)
        await panel.get_by_role("button", name="キャンセル待ちに登録する").click()

        await expect(page.get_by_role("heading", level=1)).to_have_text("予約の確認")
        waitlist = page.get_by_role("region", name="キャンセル待ち")
        entry = waitlist.locator("li.waitlist-entry")
        await expect(entry).to_have_attribute("data-status", "waiting")
        await expect(entry).to_contain_text(f"{day} 中央公民館 第2会議室 夜間")
        await expect(entry.locator(".wait-status")).to_have_text("順番待ち（1番目）")
        await portal.check(page, "waitlist-waiting")

        cancelled = await post_ok(
            gateway, f"/v1/reservations/{reservation_id}/cancel", taro, {"reason": "都合により"}
        )
        assert cancelled["status"] == "cancelled", cancelled
        mine = (
            await gateway.get("/v1/reservations/waitlist", headers=await _login(gateway, "hanako"))
        ).json()
        [offer] = mine["items"]
        assert offer["status"] == "offered", offer

        await page.reload()
        await expect(entry).to_have_attribute("data-status", "offered")
        await expect(entry.locator(".wait-status")).to_contain_text("空きが出ました")
        await portal.check(page, "waitlist-offered")
        await entry.get_by_label("お支払い方法").select_option("counter")
        await entry.get_by_role("button", name="この枠を予約する").click()
        status = page.locator("#reservation-status")
        await expect(status).to_have_attribute("data-status", "held")
        assert "#/reservations/" in page.url
        reservation = page.url.rsplit("/", 1)[1]
        api_view = (
            await gateway.get(
                f"/v1/reservations/{reservation}", headers=await _login(gateway, "hanako")
            )
        ).json()
        assert (api_view["day"], api_view["unit_code"], api_view["slot_code"]) == (day, UNIT, SLOT)
        await portal.check(page, "waitlist-taken")

        await portal.open(page, "/#/reservations")
        await expect(entry).to_have_attribute("data-status", "accepted")
        await expect(entry.get_by_role("link", name="予約の詳細を見る")).to_be_visible()
        await context.close()
