"""The demo seed opens a lottery round (抽選) a newcomer finds open: its entry window opens
when it is seeded, on the service's simulated clock (the shared offset in its database), not
on dates written in the file; seeding again keeps it, and once its window has closed a new
seed opens the next month's round."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from services.facility_booking.seed import seed
from services.kit.clock import JST
from services.kit.shared_clock import store_offset
from tests.unit.facility_booking.support import CITY, Suite, suite

SEEDED = CITY["lottery_rounds"][0]


async def _move_clock(fb: Suite, by: timedelta) -> None:
    """As the gateway's /sim/clock does: the service's clock and its shared offset."""
    fb.clock.advance(by)
    await store_offset(fb.service.state.db, fb.clock.offset, fb.clock.now())


async def _seed(fb: Suite) -> int:
    async with fb.service.state.db.session() as session:
        return await seed(session, CITY)


async def _seeded_rounds(fb: Suite) -> list[dict[str, Any]]:
    answer = await fb.client.get("/v1/lotteries", params={"facility_code": SEEDED["facility_code"]})
    assert answer.status_code == 200, answer.text  # public: no token
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_the_seeded_round_opens_at_the_simulated_time_of_seeding(
    db_url: str, tmp_path: Path
) -> None:
    async with suite(db_url, tmp_path, seeded=False) as fb:
        await _move_clock(fb, timedelta(days=40))  # a demo whose clock was moved before seeding
        before = fb.clock.now()
        assert await _seed(fb) == len(CITY["facilities"]) + len(CITY["lottery_rounds"])
        after = fb.clock.now()

        [round_] = await _seeded_rounds(fb)
        opens_at = datetime.fromisoformat(round_["opens_at"])
        assert before <= opens_at <= after
        assert round_["accepting_entries"] is True
        assert round_["status"] == "open"
        assert round_["unit_codes"] == sorted(SEEDED["unit_codes"])
        closes_at = datetime.fromisoformat(round_["closes_at"])
        assert closes_at - opens_at == timedelta(days=SEEDED["entry_days"])
        assert datetime.fromisoformat(round_["draw_at"]) > closes_at
        first_come = datetime.fromisoformat(round_["first_come_opens_at"]).astimezone(JST)
        assert round_["target_month"] > first_come.strftime("%Y-%m")
        facility = (await fb.client.get(f"/v1/facilities/{SEEDED['facility_code']}")).json()
        assert round_["title_ja"].startswith(facility["name_ja"])

        await _seed(fb)  # `cityhall seed` again: the open round is kept, no second one
        assert [r["id"] for r in await _seeded_rounds(fb)] == [round_["id"]]

        await _move_clock(fb, timedelta(days=SEEDED["entry_days"], hours=1))
        await _seed(fb)  # its window has closed: the next seed opens the next month's round
        rounds = await _seeded_rounds(fb)
        assert len(rounds) == 2
        [newer] = [r for r in rounds if r["id"] != round_["id"]]
        assert newer["accepting_entries"] is True
        assert newer["target_month"] > round_["target_month"]


async def test_a_seeded_suite_lists_a_round_that_takes_entries(fb: Suite) -> None:
    [round_] = await _seeded_rounds(fb)
    assert round_["accepting_entries"] is True
    await fb.register("cit_seeded_lottery")
    site = (await fb.client.get(f"/v1/facilities/{SEEDED['facility_code']}")).json()
    availability = await fb.client.get(
        f"/v1/facilities/{SEEDED['facility_code']}/availability",
        params={
            "unit": SEEDED["unit_codes"][0],
            "from": f"{round_['target_month']}-01",
            "to": f"{round_['target_month']}-28",
        },
    )
    assert availability.status_code == 200, availability.text
    cell = next(
        (day["day"], c["slot_code"])
        for day in availability.json()["days"]
        for c in day["cells"]
        if c["state"] == "lottery"
    )
    entered = await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries",
        json={"unit_code": SEEDED["unit_codes"][0], "day": cell[0], "slot_code": cell[1]},
        headers=fb.citizen("cit_seeded_lottery"),
    )
    assert entered.status_code == 201, entered.text
    assert site["code"] == round_["facility_code"]
