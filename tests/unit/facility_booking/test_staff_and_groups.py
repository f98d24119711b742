"""Usage statistics (稼働率), the day sheet, weekly series, the waitlist and the calendar feed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from icalendar import Calendar
from sqlmodel import select

from services.facility_booking.domain.calendar_rules import is_new_year_break
from services.kit.clock import JST
from services.kit.tables import OutboxMessage
from tests.unit.facility_booking.support import HALLS, Suite, open_weekday, today

GYM = "sogo-taiikukan"
HALL = "chuo-kominkan"


async def test_usage_rate_and_day_sheet(fb: Suite) -> None:
    await fb.register("cit_a")
    day = open_weekday(today() + timedelta(days=10))
    staff = fb.staff()
    for unit, slot in (("arena-full", "am"), ("arena-half-a", "pm")):
        made = await fb.book(
            "cit_a",
            facility_code=GYM,
            unit_code=unit,
            day=day.isoformat(),
            slot_code=slot,
            payment_method="counter",
            attendees=20,
        )
        assert made.status_code == 201, made.text
        paid = await fb.client.post(
            f"/v1/reservations/{made.json()['id']}/counter-payment", headers=staff
        )
        assert paid.status_code == 200
    held = await fb.book(
        "cit_a",
        facility_code=GYM,
        unit_code="budojo",
        day=day.isoformat(),
        slot_code="am",
        payment_method="counter",
    )
    assert held.status_code == 201
    block = await fb.client.post(
        f"/v1/facilities/{GYM}/blocks",
        headers=staff,
        json={
            "unit_code": "budojo",
            "day_from": day.isoformat(),
            "day_to": day.isoformat(),
            "slot_codes": ["night"],
            "reason_ja": "床の補修",
        },
    )
    assert block.status_code == 201, block.text
    usage = await fb.client.get(
        f"/v1/facilities/{GYM}/usage",
        headers=staff,
        params={"from": day.isoformat(), "to": day.isoformat()},
    )
    assert usage.status_code == 200, usage.text
    units = {u["unit_code"]: u for u in usage.json()["units"]}
    assert units["arena-full"]["booked_slots"] == 2  # its halves were booked am and pm
    assert units["arena-full"]["occupancy_rate"] == round(2 / 3, 4)
    assert units["arena-half-a"]["booked_slots"] == 2
    assert units["arena-half-b"]["booked_slots"] == 1
    assert units["budojo"] == {
        "unit_code": "budojo",
        "open_slots": 2,
        "booked_slots": 0,
        "blocked_slots": 1,
        "occupancy_rate": 0.0,
    }  # held is not booked
    # leaves: a 3 booked (am, pm), b 1 booked (am), budojo 0 of 2 open → 3 / 8
    assert usage.json()["facility_rate"] == round(3 / 8, 4)
    other = await fb.client.get(
        f"/v1/facilities/{GYM}/usage",
        headers=fb.staff(department=HALLS),
        params={"from": day.isoformat(), "to": day.isoformat()},
    )
    assert other.status_code == 403
    sheet = await fb.client.get(
        f"/v1/facilities/{GYM}/day-sheet", headers=staff, params={"day": day.isoformat()}
    )
    assert sheet.status_code == 200, sheet.text
    entries = sheet.json()["entries"]
    assert [(e["unit_code"], e["slot_code"], e["status"]) for e in entries] == [
        ("arena-full", "am", "confirmed"),
        ("budojo", "am", "held"),
        ("arena-half-a", "pm", "confirmed"),
    ]
    assert entries[0]["name"] == "利用者 cit_a"
    citizen = await fb.client.get(
        f"/v1/facilities/{GYM}/day-sheet",
        headers=fb.citizen("cit_a"),
        params={"day": day.isoformat()},
    )
    assert citizen.status_code == 403


async def test_weekly_series_is_booked_and_cancelled_as_one_group(fb: Suite) -> None:
    await fb.register("cit_club")
    await fb.register("cit_other")
    first = open_weekday(today() + timedelta(days=8), weekday=1)
    while any(is_new_year_break(first + timedelta(weeks=w)) for w in range(5)):
        first = open_weekday(first + timedelta(days=1), weekday=1)
    taken_day = first + timedelta(weeks=2)
    taken = await fb.book(
        "cit_other",
        facility_code=HALL,
        unit_code="kaigishitsu-1",
        day=taken_day.isoformat(),
        slot_code="night",
        payment_method="counter",
    )
    assert taken.status_code == 201
    series = await fb.client.post(
        "/v1/reservations/series",
        headers=fb.citizen("cit_club"),
        json={
            "facility_code": HALL,
            "unit_code": "kaigishitsu-1",
            "first_day": first.isoformat(),
            "slot_code": "night",
            "weeks": 5,
            "payment_method": "counter",
            "purpose": "合唱の練習",
        },
    )
    assert series.status_code == 201, series.text
    body = series.json()
    booked_days = {r["day"] for r in body["reservations"]}
    skipped = {s["day"]: s["reason"] for s in body["skipped"]}
    assert taken_day.isoformat() in skipped
    assert len(booked_days) + len(skipped) == 5
    assert booked_days.isdisjoint(skipped)
    assert all(r["series_id"] == body["id"] for r in body["reservations"])
    cancelled = await fb.client.post(
        f"/v1/reservations/series/{body['id']}/cancel", headers=fb.citizen("cit_club")
    )
    assert cancelled.status_code == 200, cancelled.text
    assert {r["status"] for r in cancelled.json()["reservations"]} == {"cancelled"}
    stranger = await fb.client.get(
        f"/v1/reservations/series/{body['id']}", headers=fb.citizen("cit_other")
    )
    assert stranger.status_code == 404


async def test_waitlist_offer_accept_and_lapse(fb: Suite) -> None:
    for sub in ("cit_first", "cit_w1", "cit_w2"):
        await fb.register(sub)
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    cell = {"facility_code": GYM, "unit_code": "budojo", "day": day, "slot_code": "pm"}
    free = await fb.client.post(
        "/v1/reservations/waitlist", json=cell, headers=fb.citizen("cit_w1")
    )
    assert free.status_code == 409  # nothing to wait for: book it
    made = await fb.book("cit_first", **cell, payment_method="counter")
    w1 = await fb.client.post("/v1/reservations/waitlist", json=cell, headers=fb.citizen("cit_w1"))
    w2 = await fb.client.post("/v1/reservations/waitlist", json=cell, headers=fb.citizen("cit_w2"))
    assert (w1.json()["position"], w2.json()["position"]) == (1, 2)
    await fb.client.post(
        f"/v1/reservations/{made.json()['id']}/cancel", headers=fb.citizen("cit_first")
    )
    first = (await fb.client.get("/v1/reservations/waitlist", headers=fb.citizen("cit_w1"))).json()
    assert first["items"][0]["status"] == "offered"
    stolen = await fb.book("cit_first", **cell, payment_method="counter")
    assert stolen.status_code == 409  # held for the offer
    fb.clock.advance(timedelta(hours=25))
    await fb.run_jobs()  # the offer lapses and passes on
    first = (await fb.client.get("/v1/reservations/waitlist", headers=fb.citizen("cit_w1"))).json()
    assert first["items"][0]["status"] == "lapsed"
    second = (await fb.client.get("/v1/reservations/waitlist", headers=fb.citizen("cit_w2"))).json()
    assert second["items"][0]["status"] == "offered"
    late = await fb.client.post(
        f"/v1/reservations/waitlist/{first['items'][0]['id']}/accept", headers=fb.citizen("cit_w1")
    )
    assert late.status_code == 409
    accepted = await fb.client.post(
        f"/v1/reservations/waitlist/{second['items'][0]['id']}/accept",
        headers=fb.citizen("cit_w2"),
        json={"payment_method": "counter"},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["status"] == "held"
    assert accepted.headers["location"] == f"/v1/reservations/{accepted.json()['id']}"


async def test_a_waitlist_entry_is_read_at_its_location_by_its_owner_only(fb: Suite) -> None:
    for sub in ("cit_first", "cit_w1", "cit_w2"):
        await fb.register(sub)
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    cell = {"facility_code": GYM, "unit_code": "budojo", "day": day, "slot_code": "am"}
    await fb.book("cit_first", **cell, payment_method="counter")
    headers = {**fb.citizen("cit_w1"), "Idempotency-Key": "wait-1"}
    joined = await fb.client.post("/v1/reservations/waitlist", json=cell, headers=headers)
    assert joined.status_code == 201, joined.text
    assert joined.headers["location"] == f"/v1/reservations/waitlist/{joined.json()['id']}"
    located = await fb.client.get(joined.headers["location"], headers=fb.citizen("cit_w1"))
    assert located.status_code == 200, located.text
    assert located.json() == joined.json()
    assert located.json()["position"] == 1
    listed = await fb.client.get("/v1/reservations/waitlist", headers=fb.citizen("cit_w1"))
    assert listed.json()["items"] == [located.json()]
    replay = await fb.client.post("/v1/reservations/waitlist", json=cell, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["location"] == joined.headers["location"]

    unknown = await fb.client.get(
        "/v1/reservations/waitlist/wl_01JD0000000000000000000000", headers=fb.citizen("cit_w1")
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    other = await fb.client.get(joined.headers["location"], headers=fb.citizen("cit_w2"))
    assert other.status_code == 404
    assert other.json()["title"] == unknown.json()["title"]
    staff = await fb.client.get(joined.headers["location"], headers=fb.staff())
    assert staff.status_code == 403  # a citizen's resource: staff tokens are refused by kind


async def test_calendar_feed_at_a_revocable_personal_url(fb: Suite) -> None:
    await fb.register("cit_cal")
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    made = await fb.book(
        "cit_cal",
        facility_code=GYM,
        unit_code="budojo",
        day=day,
        slot_code="night",
        payment_method="counter",
    )
    feed = await fb.client.post(
        "/v1/facility-users/me/calendar-feed", headers=fb.citizen("cit_cal")
    )
    assert feed.status_code == 200, feed.text
    url = feed.json()["url"]
    assert url.startswith("http://gateway.test/v1/facility-users/calendars/")
    ics = await fb.client.get(url)  # no token: calendar apps send none
    assert ics.status_code == 200, ics.text
    assert ics.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(ics.content)
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]).startswith(made.json()["id"])
    assert "武道場" in str(event["summary"])
    assert str(event["status"]) == "TENTATIVE"
    starts = datetime.combine(date.fromisoformat(day), time(18), JST)
    assert event.decoded("dtstart") == starts
    assert event["dtstart"].params["TZID"] == "Asia/Tokyo"
    rotated = await fb.client.post(
        "/v1/facility-users/me/calendar-feed", headers=fb.citizen("cit_cal")
    )
    assert (await fb.client.get(url)).status_code == 404  # the old URL stops working
    assert (await fb.client.get(rotated.json()["url"])).status_code == 200
    revoked = await fb.client.delete(
        "/v1/facility-users/me/calendar-feed", headers=fb.citizen("cit_cal")
    )
    assert revoked.status_code == 204
    assert (await fb.client.get(rotated.json()["url"])).status_code == 404


async def test_search_free_on_a_date_and_staff_rule_changes(fb: Suite) -> None:
    await fb.register("cit_a")
    day = open_weekday(today() + timedelta(days=10))
    monday = day + timedelta(days=(7 - day.weekday()) % 7)  # the community halls' 休館日
    closed = await fb.client.get("/v1/facilities", params={"free_on": monday.isoformat()})
    assert {f["code"] for f in closed.json()["items"]} == {"undo-koen", "bunka-center"}
    staff = fb.staff()
    # Fill the budojo's day, block the arena's: the gym has nothing free that day.
    for slot in ("am", "pm", "night"):
        made = await fb.book(
            "cit_a",
            facility_code=GYM,
            unit_code="budojo",
            day=day.isoformat(),
            slot_code=slot,
            payment_method="counter",
        )
        assert made.status_code == 201, made.text
    blocked = await fb.client.post(
        f"/v1/facilities/{GYM}/blocks",
        headers=staff,
        json={
            "unit_code": "arena-full",
            "day_from": day.isoformat(),
            "day_to": day.isoformat(),
            "reason_ja": "市民体育祭",
        },
    )
    assert blocked.status_code == 201, blocked.text
    free = await fb.client.get(
        "/v1/facilities", params={"free_on": day.isoformat(), "kind": "sports"}
    )
    assert [f["code"] for f in free.json()["items"]] == ["undo-koen"]
    # Staff lower the quota; the next booking is refused by it.
    patched = await fb.client.patch(
        f"/v1/facilities/{GYM}",
        headers=staff,
        json={"max_active_per_user": 3, "closed_dates": [(day + timedelta(days=1)).isoformat()]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["rules"]["max_active_per_user"] == 3
    over = await fb.book(
        "cit_a",
        facility_code=GYM,
        unit_code="budojo",
        day=(day + timedelta(days=2)).isoformat(),
        slot_code="am",
        payment_method="counter",
    )
    assert over.status_code == 409
    assert over.json()["type"].endswith("/too-many-reservations")
    grid = await fb.client.get(
        f"/v1/facilities/{GYM}/availability",
        params={
            "unit": "budojo",
            "from": (day + timedelta(days=1)).isoformat(),
            "to": (day + timedelta(days=1)).isoformat(),
        },
    )
    assert grid.json()["days"][0]["closed"] is True
    bad = await fb.client.patch(
        f"/v1/facilities/{GYM}", headers=staff, json={"closed_weekdays": [7]}
    )
    assert bad.status_code == 422
    fees = await fb.client.patch(
        f"/v1/facilities/{GYM}/units/budojo",
        headers=staff,
        json={"fees": {"am": 1000, "pm": 2000, "night": 2500}},
    )
    assert fees.json()["fees"]["night"] == 2500


async def test_the_day_before_reminder_is_queued_once(fb: Suite) -> None:
    await fb.register("cit_r")
    day = open_weekday(today() + timedelta(days=10))
    made = await fb.book(
        "cit_r",
        facility_code=GYM,
        unit_code="budojo",
        day=day.isoformat(),
        slot_code="night",
        payment_method="counter",
    )
    await fb.client.post(
        f"/v1/reservations/{made.json()['id']}/counter-payment", headers=fb.staff()
    )
    fb.clock.travel_to(datetime.combine(day - timedelta(days=1), time(9), JST))
    await fb.run_jobs()
    await fb.run_jobs()
    async with fb.service.state.db.session(write=False) as session:
        rows = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.topic == "notify.email"))
        ).all()
    templates = [r.payload["template_id"] for r in rows]
    assert templates.count("tpl_facility_booking_reminder") == 1
    assert templates.count("tpl_facility_booking_confirmed") == 1  # when the fee was paid
    reminder = next(r for r in rows if r.payload["template_id"].endswith("reminder"))
    assert reminder.payload["email_address"] == "cit_r@example.jp"
    assert reminder.payload["personalisation"]["start_time"] == "18:00"
