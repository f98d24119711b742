"""Who may do what: anonymous, the owner, another citizen, staff of another department and
staff of the facility's department, over every kind of route (through the gateway)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.unit.facility_booking.support import HALLS, Suite, open_weekday, today

GYM = "sogo-taiikukan"


async def test_authorization_matrix(fb: Suite) -> None:
    owner = await fb.register("cit_owner")
    await fb.register("cit_other")
    day = open_weekday(today() + timedelta(days=10)).isoformat()
    rid = (
        await fb.book(
            "cit_owner",
            facility_code=GYM,
            unit_code="budojo",
            day=day,
            slot_code="am",
            payment_method="counter",
        )
    ).json()["id"]
    now = fb.clock.now()
    first = (now.date() + timedelta(days=70)).replace(day=1)
    round_ = (
        await fb.client.post(
            "/v1/lotteries",
            headers=fb.staff(),
            json={
                "facility_code": GYM,
                "target_month": first.isoformat()[:7],
                "opens_at": (now - timedelta(minutes=1)).isoformat(),
                "closes_at": (now + timedelta(days=1)).isoformat(),
                "draw_at": (now + timedelta(days=2)).isoformat(),
                "confirm_by": (now + timedelta(days=5)).isoformat(),
                "first_come_opens_at": (now + timedelta(days=6)).isoformat(),
            },
        )
    ).json()
    lottery_day = open_weekday(first + timedelta(days=7)).isoformat()
    entry = (
        await fb.client.post(
            f"/v1/lotteries/{round_['id']}/entries",
            headers=fb.citizen("cit_owner"),
            json={"unit_code": "budojo", "day": lottery_day, "slot_code": "am"},
        )
    ).json()
    callers: dict[str, dict[str, str]] = {
        "anonymous": {},
        "owner": fb.citizen("cit_owner"),
        "other": fb.citizen("cit_other"),
        "halls": fb.staff("stf_halls", department=HALLS),
        "tax": fb.staff("stf_tax", department="zeimu"),
        "sports": fb.staff(),
    }
    cell = {
        "facility_code": GYM,
        "unit_code": "budojo",
        "day": day,
        "slot_code": "pm",
        "payment_method": "counter",
    }
    # (method, path, body, {caller: expected status})
    matrix: list[tuple[str, str, Any, dict[str, int]]] = [
        ("GET", "/v1/facilities", None, {"anonymous": 200, "owner": 200}),
        ("GET", f"/v1/facilities/{GYM}/availability?unit=budojo", None, {"anonymous": 200}),
        (
            "PATCH",
            f"/v1/facilities/{GYM}",
            {"max_active_per_user": 5},
            {"anonymous": 401, "owner": 403, "halls": 403, "sports": 200},
        ),
        (
            "GET",
            f"/v1/facilities/{GYM}/usage?from={day}&to={day}",
            None,
            {"anonymous": 401, "owner": 403, "halls": 403, "sports": 200},
        ),
        (
            "GET",
            f"/v1/facilities/{GYM}/day-sheet?day={day}",
            None,
            {"owner": 403, "tax": 403, "sports": 200},
        ),
        ("GET", f"/v1/facilities/{GYM}/blocks", None, {"owner": 403, "halls": 403, "sports": 200}),
        (
            "GET",
            "/v1/facility-users",
            None,
            {"anonymous": 401, "owner": 403, "tax": 403, "halls": 200, "sports": 200},
        ),
        (
            "GET",
            f"/v1/facility-users/{owner['id']}",
            None,
            {"owner": 403, "other": 403, "tax": 403, "sports": 200},
        ),
        ("POST", f"/v1/facility-users/{owner['id']}/suspend", None, {"owner": 403, "tax": 403}),
        ("GET", "/v1/facility-users/me", None, {"anonymous": 401, "owner": 200, "sports": 403}),
        ("POST", "/v1/reservations", cell, {"anonymous": 401, "sports": 403}),
        ("GET", "/v1/reservations", None, {"anonymous": 401, "sports": 403}),
        (
            "GET",
            f"/v1/reservations/{rid}",
            None,
            {"anonymous": 401, "other": 404, "sports": 403, "owner": 200},
        ),
        ("GET", f"/v1/reservations/{rid}/events", None, {"other": 404, "owner": 200}),
        ("POST", f"/v1/reservations/{rid}/cancel", None, {"other": 404}),
        (
            "POST",
            f"/v1/reservations/{rid}/counter-payment",
            None,
            {"owner": 403, "halls": 404, "tax": 404},
        ),
        (
            "POST",
            f"/v1/reservations/{rid}/cancel-by-facility",
            {"reason_ja": "点検"},
            {"owner": 403, "halls": 404},
        ),
        (
            "POST",
            "/v1/lotteries",
            {
                **{
                    k: round_[k]
                    for k in (
                        "opens_at",
                        "closes_at",
                        "draw_at",
                        "confirm_by",
                        "first_come_opens_at",
                    )
                },
                "facility_code": GYM,
                "target_month": "2099-01",
            },
            {"anonymous": 401, "owner": 403, "halls": 403},
        ),
        ("GET", f"/v1/lotteries/{round_['id']}", None, {"anonymous": 200}),
        ("GET", f"/v1/lotteries/{round_['id']}/entries", None, {"anonymous": 200}),
        (
            "POST",
            f"/v1/lotteries/{round_['id']}/draw",
            None,
            {"anonymous": 401, "owner": 403, "halls": 403},
        ),
        (
            "POST",
            f"/v1/lotteries/{round_['id']}/entries/{entry['id']}/withdraw",
            None,
            {"other": 404, "sports": 403},
        ),
        ("GET", f"/v1/lotteries/{round_['id']}/my-entries", None, {"anonymous": 401}),
        (
            "GET",
            f"/v1/lotteries/{round_['id']}/entries/{entry['id']}",
            None,
            {"anonymous": 401, "owner": 200, "other": 404, "sports": 403},
        ),
    ]
    seen: list[tuple[str, str, str, int, int]] = []
    for method, path, body, expected in matrix:
        for caller, status in expected.items():
            response = await fb.client.request(method, path, json=body, headers=callers[caller])
            if response.status_code != status:
                seen.append((method, path, caller, status, response.status_code))
            elif status >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")
    assert seen == [], seen
    # The anonymous public entry list never says who entered.
    public = (await fb.client.get(f"/v1/lotteries/{round_['id']}/entries")).json()
    assert "cit_owner" not in str(public)
    mine = (
        await fb.client.get(
            f"/v1/lotteries/{round_['id']}/my-entries", headers=fb.citizen("cit_other")
        )
    ).json()
    assert mine["items"] == []
