"""The demo portal in Debian's Chromium, the staff facilities page (施設管理): a member of
生涯学習課 closes one slot of a room for maintenance and sees it closed in the month grid;
the month's usage statistics show the numbers the API counts, with a citizen's booking and
the block in them."""

from __future__ import annotations

import math
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from deploy.demo_identities import current_totp, identity
from tests.e2e.conftest import Launch
from tests.e2e.portal_api import approve_facility_user, portal_stack, post_ok, staff_headers

pytestmark = pytest.mark.e2e

FACILITY = "chuo-kominkan"
UNIT = "washitsu"


async def _free_days(gateway: httpx.AsyncClient, month: str) -> list[str]:
    """Days of `month` whose every slot of the room is free to book."""
    year, m = (int(part) for part in month.split("-"))
    last = (date(year + m // 12, m % 12 + 1, 1) - timedelta(days=1)).day
    answer = await gateway.get(
        f"/v1/facilities/{FACILITY}/availability",
        params={"unit": UNIT, "from": f"{month}-01", "to": f"{month}-{last:02d}"},
    )
    assert answer.status_code == 200, answer.text
    days = [
        day["day"]
        for day in answer.json()["days"]
        if day["cells"] and all(c["state"] == "free" for c in day["cells"])
    ]
    assert len(days) >= 2, answer.text
    return days


async def _citizen_books(gateway: httpx.AsyncClient, staff: dict[str, str], day: str) -> None:
    """taro, a registered facility user, books the room's afternoon on `day` and pays at the
    hall's counter (API): a confirmed booking, which the usage counts."""
    taro = identity("taro").account
    tokens = await gateway.post(
        "/auth/token",
        data={"grant_type": "password", "username": taro.email, "password": taro.password},
    )
    assert tokens.status_code == 200, tokens.text
    citizen = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    registration = {
        "applicant_type": "individual",
        "name": taro.display_name,
        "email": taro.email,
        "residency": "resident",
        "residency_basis": "living",
    }
    await post_ok(gateway, "/v1/facility-users", _keyed(citizen), registration)
    await approve_facility_user(gateway, staff, taro.email)
    booking: dict[str, Any] = {
        "facility_code": FACILITY,
        "unit_code": UNIT,
        "day": day,
        "slot_code": "pm",
        "purpose": "茶道教室",
        "payment_method": "counter",
    }
    held = await post_ok(gateway, "/v1/reservations", _keyed(citizen), booking)
    paid = await post_ok(gateway, f"/v1/reservations/{held['id']}/counter-payment", staff, {})
    assert paid["status"] == "confirmed", paid


def _percent(rate: float) -> str:
    """As the page rounds a rate: to a tenth of a percent, halves up (JavaScript's round)."""
    return f"{math.floor(rate * 1000 + 0.5) / 10:g}%"


def _keyed(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


async def test_staff_close_a_slot_and_read_the_months_usage(
    launch: Launch, request: pytest.FixtureRequest
) -> None:
    async with portal_stack(launch, request.node.name) as run:
        portal, gateway = run.portal, run.gateway
        # The desk's API steps as admin: the kominkan member's one-time code is the browser's.
        staff = await staff_headers(gateway, "admin")
        month = (date.today().replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
        booked_day, closed_day = (await _free_days(gateway, month))[:2]
        await _citizen_books(gateway, staff, booked_day)

        context = await portal.context()
        page = await context.new_page()
        account = identity("kominkan").account
        await portal.open(page, "/#/staff/login")
        login = page.locator("form").first
        await login.get_by_label("メールアドレス").fill(account.email)
        await login.get_by_label("パスワード").fill(account.password)
        await login.get_by_label("確認コード（6桁）").fill(current_totp("kominkan")[0])
        await login.get_by_role("button", name="ログインする").click()
        await expect(page.get_by_role("link", name="ログアウト")).to_be_visible()

        await portal.open(page, "/#/staff/facilities")
        block = page.locator("form[aria-labelledby='block-title']")
        await block.get_by_label("施設").select_option(FACILITY)
        await block.get_by_label("部屋・面").select_option(UNIT)
        await block.get_by_label("開始日").fill(closed_day)
        await block.get_by_label("終了日").fill(closed_day)
        await block.get_by_label("午前").check()  # one slot only: the rest of the day stays open
        await block.get_by_label("理由").fill("畳の張り替え")
        await portal.check(page, "staff-block-form")
        await block.get_by_role("button", name="利用停止にする").click()
        result = page.locator("#block-result")
        await expect(result.get_by_role("status")).to_contain_text(f"{closed_day}〜{closed_day}")
        grid = result.locator("table.availability")
        closed = grid.locator(f"td[data-day='{closed_day}'][data-slot='am']")
        await expect(closed).to_have_attribute("data-state", "blocked")
        await expect(closed).to_have_text("利用停止")
        afternoon = grid.locator(f"td[data-day='{closed_day}'][data-slot='pm']")
        await expect(afternoon).not_to_have_attribute("data-state", "blocked")
        booked = grid.locator(f"td[data-day='{booked_day}'][data-slot='pm']")
        await expect(booked).to_have_attribute("data-state", "booked")
        await portal.check(page, "staff-block-grid")

        blocks = (await gateway.get(f"/v1/facilities/{FACILITY}/blocks", headers=staff)).json()
        [made] = blocks["items"]
        assert (made["unit_code"], made["day_from"], made["slot_codes"]) == (
            UNIT,
            closed_day,
            ["am"],
        )

        usage_form = page.locator("form[aria-labelledby='usage-title']")
        await usage_form.get_by_label("施設").select_option(FACILITY)
        await usage_form.get_by_label("月").fill(month)
        await usage_form.get_by_role("button", name="表示").click()
        last = (date.fromisoformat(f"{month}-01") + timedelta(days=31)).replace(day=1)
        api_usage = (
            await gateway.get(
                f"/v1/facilities/{FACILITY}/usage",
                params={"from": f"{month}-01", "to": (last - timedelta(days=1)).isoformat()},
                headers=staff,
            )
        ).json()
        room = next(u for u in api_usage["units"] if u["unit_code"] == UNIT)
        assert (room["booked_slots"], room["blocked_slots"]) == (1, 1), room
        row = page.locator(f"#usage-result tr[data-unit='{UNIT}'] td")
        rate = _percent(room["occupancy_rate"])
        await expect(row).to_have_text(
            [
                "和室",
                str(room["open_slots"]),
                "1",
                "1",
                rate,
            ]
        )
        await expect(page.locator("#facility-rate")).to_have_text(
            f"施設全体の利用率: {_percent(api_usage['facility_rate'])}"
        )
        await portal.check(page, "staff-usage")
        await context.close()
