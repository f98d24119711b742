"""First-come booking through the gateway: fees, holds, the rules a booking must meet,
cancellation with the tiered refund, expiry, staff actions, and the history."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from services.kit.clock import JST
from tests.unit.facility_booking.support import HALLS, Suite, open_weekday, today

GYM = "sogo-taiikukan"


def _arena(
    day: str, unit: str = "arena-full", slot: str = "night", **extra: object
) -> dict[str, object]:
    return {"facility_code": GYM, "unit_code": unit, "day": day, "slot_code": slot, **extra}


async def test_only_approved_users_book(fb: Suite) -> None:
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    unregistered = await fb.book("cit_nobody", **_arena(day, payment_method="counter"))
    assert unregistered.status_code == 403
    assert unregistered.json()["type"].endswith("/registration-required")
    pending = await fb.register("cit_pending", jpki=False)
    assert pending["status"] == "pending"
    refused = await fb.book("cit_pending", **_arena(day, payment_method="counter"))
    assert refused.status_code == 403
    assert refused.json()["registration_status"] == "pending"
    staff = fb.staff(department=HALLS)
    listed = await fb.client.get("/v1/facility-users", params={"status": "pending"}, headers=staff)
    assert [r["id"] for r in listed.json()["items"]] == [pending["id"]]
    approved = await fb.client.post(
        f"/v1/facility-users/{pending['id']}/approve", json={"note": "確認済み"}, headers=staff
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    again = await fb.client.post(f"/v1/facility-users/{pending['id']}/approve", headers=staff)
    assert again.status_code == 409
    assert again.json()["current_state"] == "approved"
    booked = await fb.book("cit_pending", **_arena(day, payment_method="counter"))
    assert booked.status_code == 201, booked.text


async def test_registration_rules(fb: Suite) -> None:
    card = await fb.register("cit_card")
    assert card["status"] == "approved"
    assert card["identity_verified"] is True
    assert card["user_number"].startswith("D")
    second = await fb.register("cit_card2")
    assert int(second["user_number"][1:]) == int(card["user_number"][1:]) + 1
    twice = await fb.client.post(
        "/v1/facility-users",
        json={
            "applicant_type": "individual",
            "name": "x",
            "residency": "non_resident",
            "email": "x@example.jp",
        },
        headers=fb.citizen("cit_card"),
    )
    assert twice.status_code == 409
    group = await fb.client.post(
        "/v1/facility-users",
        json={
            "applicant_type": "group",
            "name": "x",
            "residency": "non_resident",
            "email": "x@example.jp",
        },
        headers=fb.citizen("cit_group"),
    )
    assert group.status_code == 422
    assert "group_name" in group.text
    other_department = await fb.client.get(
        "/v1/facility-users", headers=fb.staff(department="zeimu")
    )
    assert other_department.status_code == 403
    mine = await fb.client.get("/v1/facility-users/me", headers=fb.citizen("cit_card"))
    assert mine.json()["id"] == card["id"]


async def test_fees_hold_and_counter_payment(fb: Suite) -> None:
    await fb.register("cit_a")
    await fb.register("cit_far", residency="non_resident")
    day = open_weekday(today() + timedelta(days=10))
    no_method = await fb.book("cit_a", **_arena(day.isoformat()))
    assert no_method.status_code == 422
    assert no_method.json()["errors"][0]["field"] == "payment_method"
    held = await fb.book("cit_a", **_arena(day.isoformat(), payment_method="counter"))
    assert held.status_code == 201, held.text
    body = held.json()
    assert body["status"] == "held"
    assert body["fee"]["amount"] == 9000  # arena-full, night, weekday, resident (fictional)
    assert body["hold_expires_at"] is not None
    assert body["starts_at"].endswith("+09:00")
    far = await fb.book("cit_far", **_arena(day.isoformat(), unit="budojo", payment_method="card"))
    assert far.json()["fee"]["amount"] == 4400  # 2,200 × 200 % for 市外
    wrong_department = await fb.client.post(
        f"/v1/reservations/{body['id']}/counter-payment", headers=fb.staff(department=HALLS)
    )
    assert wrong_department.status_code == 404
    paid = await fb.client.post(
        f"/v1/reservations/{body['id']}/counter-payment", headers=fb.staff()
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "confirmed"
    assert paid.json()["paid_amount"] == 9000
    history = await fb.client.get(
        f"/v1/reservations/{body['id']}/events", headers=fb.citizen("cit_a")
    )
    assert [e["transition"] for e in history.json()["items"]] == ["create", "pay"]
    other = await fb.client.get(f"/v1/reservations/{body['id']}", headers=fb.citizen("cit_far"))
    assert other.status_code == 404


async def test_reduction_makes_a_booking_free_and_confirmed(fb: Suite) -> None:
    user = await fb.register("cit_club")
    granted = await fb.client.post(
        f"/v1/facility-users/{user['id']}/reduction",
        json={"reduction": "disability_group"},
        headers=fb.staff(),
    )
    assert granted.json()["reduction_percent"] == 100
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    booked = await fb.book("cit_club", **_arena(day, unit="budojo"))
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == "confirmed"
    assert booked.json()["fee"]["amount"] == 0


async def test_booking_rules_refuse_with_the_reason(fb: Suite) -> None:
    await fb.register("cit_a")
    await fb.register("cit_far", residency="non_resident")
    monday = today() + timedelta(days=(7 - today().weekday()) % 7 + 7)
    closed = await fb.book("cit_a", **_arena(monday.isoformat(), payment_method="card"))
    assert closed.status_code == 409
    assert "休館日" in closed.json()["detail"]
    far_day = open_weekday(today() + timedelta(days=45))
    too_early = await fb.book("cit_far", **_arena(far_day.isoformat(), payment_method="card"))
    assert too_early.status_code == 409
    assert too_early.json()["type"].endswith("/not-bookable")
    ok = await fb.book("cit_a", **_arena(far_day.isoformat(), payment_method="card"))
    assert ok.status_code == 201  # residents book 90 days ahead, 市外 30
    past = await fb.book(
        "cit_a", **_arena((today() - timedelta(days=1)).isoformat(), payment_method="card")
    )
    assert past.status_code == 409
    bad_slot = await fb.book("cit_a", **_arena(far_day.isoformat(), slot="h09"))
    assert bad_slot.status_code == 422
    assert bad_slot.json()["errors"][0]["field"] == "slot_code"
    bad_unit = await fb.book("cit_a", **_arena(far_day.isoformat(), unit="pool"))
    assert bad_unit.json()["errors"][0]["field"] == "unit_code"
    crowd = await fb.book(
        "cit_a", **_arena(far_day.isoformat(), unit="budojo", attendees=61, payment_method="card")
    )
    assert crowd.status_code == 422


async def test_whole_court_and_halves_exclude_each_other(fb: Suite) -> None:
    await fb.register("cit_a")
    await fb.register("cit_b")
    day = open_weekday(today() + timedelta(days=12)).isoformat()
    half = await fb.book("cit_a", **_arena(day, unit="arena-half-a", payment_method="card"))
    assert half.status_code == 201
    whole = await fb.book("cit_b", **_arena(day, payment_method="card"))
    assert whole.status_code == 409
    assert whole.json()["type"].endswith("/slot-taken")
    other_half = await fb.book("cit_b", **_arena(day, unit="arena-half-b", payment_method="card"))
    assert other_half.status_code == 201
    grid = await fb.client.get(
        f"/v1/facilities/{GYM}/availability",
        params={"unit": "arena-full", "from": day, "to": day},
    )
    night = next(c for c in grid.json()["days"][0]["cells"] if c["slot_code"] == "night")
    assert night["state"] == "held"


async def test_idempotent_create_replays(fb: Suite) -> None:
    await fb.register("cit_a")
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    headers = {**fb.citizen("cit_a"), "Idempotency-Key": "book-1"}
    body = _arena(day, payment_method="card")
    first = await fb.client.post("/v1/reservations", json=body, headers=headers)
    again = await fb.client.post("/v1/reservations", json=body, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # through the gateway's proxy: the replay repeats the first answer's Location
    assert first.headers["location"] == f"/v1/reservations/{first.json()['id']}"
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    located = await fb.client.get(first.headers["location"], headers=fb.citizen("cit_a"))
    assert located.json()["id"] == first.json()["id"]
    mine = await fb.client.get("/v1/reservations", headers=fb.citizen("cit_a"))
    assert len(mine.json()["items"]) == 1


async def test_cancel_refund_tiers_and_late_cancellation_restriction(fb: Suite) -> None:
    await fb.register("cit_a")
    staff = fb.staff()
    far = open_weekday(today() + timedelta(days=20))
    near = open_weekday(today() + timedelta(days=3))
    results = {}
    for label, day, unit in (("far", far, "arena-half-a"), ("near", near, "arena-half-b")):
        made = await fb.book(
            "cit_a", **_arena(day.isoformat(), unit=unit, payment_method="counter")
        )
        assert made.status_code == 201, made.text
        rid = made.json()["id"]
        assert (
            await fb.client.post(f"/v1/reservations/{rid}/counter-payment", headers=staff)
        ).status_code == 200
        cancelled = await fb.client.post(
            f"/v1/reservations/{rid}/cancel",
            json={"reason": "予定変更"},
            headers=fb.citizen("cit_a"),
        )
        assert cancelled.status_code == 200, cancelled.text
        results[label] = cancelled.json()
    assert results["far"]["refund_percent"] == 100
    assert results["far"]["refund_amount"] == 4500
    days_left = (near - today()).days
    expected = 50 if days_left >= 2 else 0
    assert results["near"]["refund_percent"] == expected
    assert results["near"]["status"] == "cancelled"
    again = await fb.client.post(
        f"/v1/reservations/{results['far']['id']}/cancel", headers=fb.citizen("cit_a")
    )
    assert again.status_code == 409
    assert again.json()["current_state"] == "cancelled"
    # The freed slot is bookable again at once.
    rebook = await fb.book(
        "cit_a", **_arena(far.isoformat(), unit="arena-half-a", payment_method="card")
    )
    assert rebook.status_code == 201


async def test_too_many_late_cancellations_restrict_booking(fb: Suite) -> None:
    await fb.register("cit_late")
    day = open_weekday(today() + timedelta(days=10))
    made = [
        await fb.book(
            "cit_late",
            **_arena(day.isoformat(), unit="budojo", slot=slot, payment_method="counter"),
        )
        for slot in ("am", "pm", "night")
    ]
    assert [m.status_code for m in made] == [201, 201, 201]
    fb.clock.travel_to(datetime.combine(day - timedelta(days=1), time(8), JST))
    for one in made:
        cancelled = await fb.client.post(
            f"/v1/reservations/{one.json()['id']}/cancel", headers=fb.citizen("cit_late")
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["refund_percent"] == 0
    refused = await fb.book(
        "cit_late", **_arena(day.isoformat(), unit="arena-half-a", payment_method="card")
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/booking-restricted")


async def test_max_active_reservations_per_user(fb: Suite) -> None:
    await fb.register("cit_greedy")
    day = open_weekday(today() + timedelta(days=10))
    codes = []
    for unit in ("arena-half-a", "arena-half-b", "budojo"):
        for slot in ("am", "pm"):
            made = await fb.book(
                "cit_greedy", **_arena(day.isoformat(), unit=unit, slot=slot, payment_method="card")
            )
            codes.append(made.status_code)
    assert codes == [201, 201, 201, 201, 409, 409]  # the gym allows 4 active per user


async def test_unpaid_holds_expire_and_free_the_slot(fb: Suite) -> None:
    await fb.register("cit_slow")
    await fb.register("cit_next")
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    held = await fb.book("cit_slow", **_arena(day, payment_method="card"))
    assert held.json()["status"] == "held"
    fb.clock.advance(timedelta(minutes=16))
    await fb.run_jobs()
    expired = await fb.client.get(
        f"/v1/reservations/{held.json()['id']}", headers=fb.citizen("cit_slow")
    )
    assert expired.json()["status"] == "expired"
    taken = await fb.book("cit_next", **_arena(day, payment_method="card"))
    assert taken.status_code == 201, taken.text


async def test_staff_cancel_and_block(fb: Suite) -> None:
    await fb.register("cit_a")
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    made = (
        await fb.book("cit_a", **_arena(day, unit="arena-half-a", payment_method="card"))
    ).json()
    block = {
        "unit_code": "arena-full",
        "day_from": day,
        "day_to": day,
        "slot_codes": ["night"],
        "reason_ja": "市民体育大会",
    }
    refused = await fb.client.post(f"/v1/facilities/{GYM}/blocks", json=block, headers=fb.staff())
    assert refused.status_code == 409
    assert refused.json()["reservations"] == [made["id"]]
    halls = await fb.client.post(
        f"/v1/facilities/{GYM}/blocks", json=block, headers=fb.staff(department=HALLS)
    )
    assert halls.status_code == 403
    await fb.register("cit_waiting")
    waiting = await fb.client.post(
        "/v1/reservations/waitlist",
        json={"facility_code": GYM, "unit_code": "arena-half-a", "day": day, "slot_code": "night"},
        headers=fb.citizen("cit_waiting"),
    )
    assert waiting.status_code == 201, waiting.text  # the block must not offer this slot
    blocks = f"/v1/facilities/{GYM}/blocks"
    staff_key = {**fb.staff(), "Idempotency-Key": "block-1"}
    blocking = {**block, "cancel_reservations": True}
    blocked = await fb.client.post(blocks, json=blocking, headers=staff_key)
    assert blocked.status_code == 201, blocked.text
    assert blocked.json()["cancelled_reservations"] == [made["id"]]
    # Its own read at the Location: the create's body, with what it cancelled, as listed.
    assert blocked.headers["location"] == f"{blocks}/{blocked.json()['id']}"
    located = await fb.client.get(blocked.headers["location"], headers=fb.staff())
    assert located.status_code == 200, located.text
    assert located.json() == blocked.json()
    listed = await fb.client.get(blocks, headers=fb.staff())
    assert listed.json()["items"] == [located.json()]
    replay = await fb.client.post(blocks, json=blocking, headers=staff_key)
    assert replay.status_code == 200
    assert replay.headers["location"] == blocked.headers["location"]
    unknown = await fb.client.get(f"{blocks}/blk_01JD0000000000000000000000", headers=fb.staff())
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    other_department = await fb.client.get(
        blocked.headers["location"], headers=fb.staff(department=HALLS)
    )
    assert other_department.status_code == 404
    assert other_department.json()["title"] == unknown.json()["title"]
    hall = f"/v1/facilities/chuo-kominkan/blocks/{blocked.json()['id']}"  # another facility's id
    assert (await fb.client.get(hall, headers=fb.staff(department=HALLS))).status_code == 404
    citizen = await fb.client.get(blocked.headers["location"], headers=fb.citizen("cit_a"))
    assert citizen.status_code == 403  # staff only, by kind
    gone = await fb.client.get(f"/v1/reservations/{made['id']}", headers=fb.citizen("cit_a"))
    assert gone.json()["status"] == "cancelled_by_facility"
    assert gone.json()["refund_percent"] == 100
    grid = await fb.client.get(
        f"/v1/facilities/{GYM}/availability",
        params={"unit": "arena-half-b", "from": day, "to": day},
    )
    cells = {c["slot_code"]: c["state"] for c in grid.json()["days"][0]["cells"]}
    assert cells == {"am": "free", "pm": "free", "night": "blocked"}
    again = await fb.book("cit_a", **_arena(day, unit="arena-half-b", payment_method="card"))
    assert again.status_code == 409
    lifted = await fb.client.delete(
        f"/v1/facilities/{GYM}/blocks/{blocked.json()['id']}", headers=fb.staff()
    )
    assert lifted.status_code == 200
    after_lift = await fb.client.get(blocked.headers["location"], headers=fb.staff())
    assert after_lift.json() == lifted.json()
    assert after_lift.json()["released_at"] is not None
    after = await fb.book("cit_a", **_arena(day, unit="arena-half-b", payment_method="card"))
    assert after.status_code == 201
