"""The verifiable lottery through the gateway: open with a commitment, enter, draw, recompute
from the public API (as `cityhall lottery verify` does), confirm a win, release the others,
then first-come."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Any

from deploy.lottery_cli import fetch_round
from services.facility_booking.domain.lottery_draw import commitment, verify
from services.kit.clock import JST
from tests.unit.facility_booking.support import Suite, open_weekday

GYM = "sogo-taiikukan"


def _target_month(now: datetime) -> tuple[str, date]:
    """A month whose first day is 40+ days away, and an open weekday inside it."""
    first = (now.astimezone(JST).date() + timedelta(days=70)).replace(day=1)
    return first.isoformat()[:7], open_weekday(first + timedelta(days=7))


async def _open_round(fb: Suite, **overrides: Any) -> tuple[dict[str, Any], date]:
    now = fb.clock.now()
    month, day = _target_month(now)
    body = {
        "facility_code": GYM,
        "target_month": month,
        "unit_codes": ["arena-full", "arena-half-a", "arena-half-b"],
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=1)).isoformat(),
        "draw_at": (now + timedelta(days=2)).isoformat(),
        "confirm_by": (now + timedelta(days=5)).isoformat(),
        "first_come_opens_at": (now + timedelta(days=6)).isoformat(),
        "max_entries_per_user": 2,
        **overrides,
    }
    opened = await fb.client.post("/v1/lotteries", json=body, headers=fb.staff())
    assert opened.status_code == 201, opened.text
    return opened.json(), day


async def test_a_round_is_drawn_verifiably_then_opens_first_come(fb: Suite) -> None:
    round_, day = await _open_round(fb)
    assert round_["seed"] is None
    assert len(round_["commitment"]) == 64
    assert round_["accepting_entries"] is True
    subs = [f"cit_lot{i:02d}" for i in range(12)]
    for sub in subs:
        await fb.register(sub)
    units = ["arena-full", "arena-half-a", "arena-half-b"]
    entered: dict[str, str] = {}
    for i, sub in enumerate(subs):
        response = await fb.client.post(
            f"/v1/lotteries/{round_['id']}/entries",
            json={"unit_code": units[i % 3], "day": day.isoformat(), "slot_code": "night"},
            headers=fb.citizen(sub),
        )
        assert response.status_code == 201, response.text
        entered[response.json()["id"]] = sub
    # Quota: two entries each, enforced by the database's unique index on (user, number).
    second = {"unit_code": "budojo", "day": day.isoformat(), "slot_code": "am"}
    outside = await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries", json=second, headers=fb.citizen(subs[0])
    )
    assert outside.status_code == 422  # budojo is not in this round
    for slot in ("am", "pm"):
        extra = await fb.client.post(
            f"/v1/lotteries/{round_['id']}/entries",
            json={"unit_code": "arena-full", "day": day.isoformat(), "slot_code": slot},
            headers=fb.citizen(subs[0]),
        )
        assert extra.status_code == (201 if slot == "am" else 409), extra.text
    # The month's slots of the round cannot be booked first-come meanwhile.
    direct = await fb.book(
        subs[1],
        facility_code=GYM,
        unit_code="arena-half-a",
        day=day.isoformat(),
        slot_code="am",
        payment_method="card",
    )
    assert direct.status_code == 409
    assert direct.json()["type"].endswith("/lottery-slot")
    grid = await fb.client.get(
        f"/v1/facilities/{GYM}/availability",
        params={"unit": "arena-half-a", "from": day.isoformat(), "to": day.isoformat()},
    )
    assert {c["state"] for c in grid.json()["days"][0]["cells"]} == {"lottery"}
    early_draw = await fb.client.post(f"/v1/lotteries/{round_['id']}/draw", headers=fb.staff())
    assert early_draw.status_code == 409

    fb.clock.advance(timedelta(days=2, minutes=1))
    await fb.run_jobs()  # the scheduled draw
    drawn = (await fb.client.get(f"/v1/lotteries/{round_['id']}")).json()
    assert drawn["status"] == "drawn"
    assert commitment(bytes.fromhex(drawn["seed"])) == round_["commitment"]

    published, entries = await fetch_round(fb.client, round_["id"])
    verdict = verify(published["seed"], published["commitment"], published["units"], entries)
    assert verdict.ok, verdict.problems
    night = [e for e in entries if e["slot_code"] == "night"]
    winners = [e for e in night if e["status"] == "won"]
    assert {e["status"] for e in night} == {"won", "lost"}
    covered = [leaf for e in winners for leaf in published["units"][e["unit_code"]]]
    assert sorted(covered) == ["arena-half-a", "arena-half-b"]  # the whole arena, or both halves
    assert len(covered) == len(set(covered))
    # A forged result or a swapped seed does not verify.
    forged = [{**e, "status": "won" if e["status"] == "lost" else e["status"]} for e in entries]
    assert not verify(published["seed"], published["commitment"], published["units"], forged).ok
    other_seed = "00" * 32
    assert not verify(other_seed, published["commitment"], published["units"], entries).ok

    # The first winner confirms (a held reservation, paid later); the other lets it lapse.
    first, *rest = winners
    confirm = await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries/{first['id']}/confirm",
        json={"payment_method": "konbini"},
        headers=fb.citizen(entered[first["id"]]),
    )
    assert confirm.status_code == 201, confirm.text
    assert confirm.json()["status"] == "held"
    assert confirm.json()["lottery_entry_id"] == first["id"]
    assert confirm.headers["location"] == f"/v1/reservations/{confirm.json()['id']}"
    loser = next(e for e in night if e["status"] == "lost")
    refused = await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries/{loser['id']}/confirm",
        headers=fb.citizen(entered[loser["id"]]),
    )
    assert refused.status_code == 409
    assert refused.json()["current_state"] == "lost"

    fb.clock.advance(timedelta(days=3))
    await fb.run_jobs()  # confirm_by passed: the round finishes, unconfirmed wins are released
    finished, entries = await fetch_round(fb.client, round_["id"])
    assert finished["status"] == "finished"
    statuses = {e["id"]: e["status"] for e in entries}
    assert statuses[first["id"]] == "confirmed"
    assert all(statuses[e["id"]] == "released" for e in rest)
    assert verify(finished["seed"], finished["commitment"], finished["units"], entries).ok

    still_lottery = await fb.book(
        subs[2],
        facility_code=GYM,
        unit_code="arena-half-a",
        day=day.isoformat(),
        slot_code="am",
        payment_method="card",
    )
    assert still_lottery.status_code == 409
    fb.clock.advance(timedelta(days=1, minutes=1))  # first-come opens
    if rest:
        freed_unit = rest[0]["unit_code"]
        freed = await fb.book(
            subs[2],
            facility_code=GYM,
            unit_code=freed_unit,
            day=day.isoformat(),
            slot_code="night",
            payment_method="card",
        )
        assert freed.status_code == 201, freed.text
    am = await fb.book(
        subs[2],
        facility_code=GYM,
        unit_code="arena-half-a",
        day=day.isoformat(),
        slot_code="am",
        payment_method="card",
    )
    assert am.status_code == 201, am.text  # subs[0]'s sole am entry won, was never confirmed


async def test_round_rules(fb: Suite) -> None:
    round_, day = await _open_round(fb)
    again = await fb.client.post(
        "/v1/lotteries",
        json={
            k: round_[k]
            for k in (
                "facility_code",
                "target_month",
                "opens_at",
                "closes_at",
                "draw_at",
                "confirm_by",
                "first_come_opens_at",
            )
        },
        headers=fb.staff(),
    )
    assert again.status_code == 409
    now = fb.clock.now()
    backwards = await fb.client.post(
        "/v1/lotteries",
        json={
            "facility_code": "undo-koen",
            "target_month": round_["target_month"],
            "opens_at": now.isoformat(),
            "closes_at": (now - timedelta(hours=1)).isoformat(),
            "draw_at": now.isoformat(),
            "confirm_by": now.isoformat(),
            "first_come_opens_at": now.isoformat(),
        },
        headers=fb.staff(),
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "closes_at"
    halls = await fb.client.post(
        "/v1/lotteries",
        json={
            **{
                k: round_[k]
                for k in ("opens_at", "closes_at", "draw_at", "confirm_by", "first_come_opens_at")
            },
            "facility_code": "undo-koen",
            "target_month": round_["target_month"],
        },
        headers=fb.staff(department="shogai-gakushu"),
    )
    assert halls.status_code == 403
    await fb.register("cit_one")
    entry = await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries",
        json={"unit_code": "arena-full", "day": day.isoformat(), "slot_code": "pm"},
        headers=fb.citizen("cit_one"),
    )
    withdrawn = await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries/{entry.json()['id']}/withdraw",
        headers=fb.citizen("cit_one"),
    )
    assert withdrawn.json()["status"] == "withdrawn"
    wrong_month = await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries",
        json={
            "unit_code": "arena-full",
            "day": (day + timedelta(days=40)).isoformat(),
            "slot_code": "pm",
        },
        headers=fb.citizen("cit_one"),
    )
    assert wrong_month.status_code == 422
    fb.clock.travel_to(datetime.combine(day, time(0), JST) - timedelta(days=30))
    late = await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries",
        json={"unit_code": "arena-full", "day": day.isoformat(), "slot_code": "pm"},
        headers=fb.citizen("cit_one"),
    )
    assert late.status_code == 409


async def test_an_entry_is_read_at_its_location_by_its_owner_only(fb: Suite) -> None:
    round_, day = await _open_round(fb)
    for sub in ("cit_reader", "cit_nosy"):
        await fb.register(sub)
    url = f"/v1/lotteries/{round_['id']}/entries"
    body = {"unit_code": "arena-full", "day": day.isoformat(), "slot_code": "pm"}
    headers = {**fb.citizen("cit_reader"), "Idempotency-Key": "enter-1"}
    entered = await fb.client.post(url, json=body, headers=headers)
    assert entered.status_code == 201, entered.text
    assert entered.headers["location"] == f"{url}/{entered.json()['id']}"
    located = await fb.client.get(entered.headers["location"], headers=fb.citizen("cit_reader"))
    assert located.status_code == 200, located.text
    assert located.json() == entered.json()
    mine = await fb.client.get(
        f"/v1/lotteries/{round_['id']}/my-entries", headers=fb.citizen("cit_reader")
    )
    assert mine.json()["items"] == [located.json()]
    replay = await fb.client.post(url, json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["location"] == entered.headers["location"]

    unknown = await fb.client.get(
        f"{url}/ent_01JD0000000000000000000000", headers=fb.citizen("cit_reader")
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    nosy = await fb.client.get(entered.headers["location"], headers=fb.citizen("cit_nosy"))
    assert nosy.status_code == 404
    assert nosy.json()["title"] == unknown.json()["title"]
    # The entry under another round's id is not found either (nor withdrawn through it).
    month = date.fromisoformat(f"{round_['target_month']}-01")
    following = (month + timedelta(days=32)).replace(day=1).isoformat()[:7]
    other, _ = await _open_round(fb, target_month=following)
    elsewhere = f"/v1/lotteries/{other['id']}/entries/{entered.json()['id']}"
    assert (await fb.client.get(elsewhere, headers=fb.citizen("cit_reader"))).status_code == 404
    withdraw = await fb.client.post(f"{elsewhere}/withdraw", headers=fb.citizen("cit_reader"))
    assert withdraw.status_code == 404
    assert (
        await fb.client.get(entered.headers["location"], headers=fb.citizen("cit_reader"))
    ).json()["status"] == "entered"


async def test_two_draws_at_once_draw_once(fb: Suite) -> None:
    round_, day = await _open_round(fb)
    await fb.register("cit_d")
    await fb.client.post(
        f"/v1/lotteries/{round_['id']}/entries",
        json={"unit_code": "arena-full", "day": day.isoformat(), "slot_code": "am"},
        headers=fb.citizen("cit_d"),
    )
    fb.clock.advance(timedelta(days=1, minutes=1))
    draws = await asyncio.gather(
        *(fb.client.post(f"/v1/lotteries/{round_['id']}/draw", headers=fb.staff()) for _ in "ab")
    )
    assert sorted(d.status_code for d in draws) == [200, 409]
    conflict = next(d for d in draws if d.status_code == 409)
    assert conflict.json()["current_state"] == "drawn"
    _, entries = await fetch_round(fb.client, round_["id"])
    assert [e["status"] for e in entries] == ["won"]
