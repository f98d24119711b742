from __future__ import annotations

from tests.unit.facility_booking.support import CITY, Suite


async def test_facilities_page_with_their_units(fb: Suite) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await fb.client.get("/v1/facilities", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [f["code"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(f["code"] for f in CITY["facilities"])
    gym = (await fb.client.get("/v1/facilities/sogo-taiikukan")).json()
    assert gym["name_ja"] == "総合体育館"
    units = {u["code"]: u for u in gym["units"]}
    assert units["arena-half-a"]["name_ja"] == "アリーナ（半面A）"
    assert units["arena-full"]["leaf_codes"] == ["arena-half-a", "arena-half-b"]
    assert units["arena-half-a"]["parent_code"] == "arena-full"
    assert units["budojo"]["leaf_codes"] == ["budojo"]
    assert [s["code"] for s in gym["slots"]] == ["am", "pm", "night"]
    assert gym["rules"]["refund_tiers"] == [
        {"min_days_before": 7, "refund_percent": 100},
        {"min_days_before": 2, "refund_percent": 50},
    ]
    assert gym["photo_alt_ja"]
    assert gym["accessibility"]
    assert "架空" in gym["fee_note_ja"]
    park = (await fb.client.get("/v1/facilities/undo-koen")).json()
    assert park["slot_scheme"] == "hourly"
    assert park["slots"][0]["code"] == "h09"
    sports = (await fb.client.get("/v1/facilities", params={"kind": "sports"})).json()
    assert {f["code"] for f in sports["items"]} == {"sogo-taiikukan", "undo-koen"}
    chuo = (await fb.client.get("/v1/facilities", params={"district": "chuo"})).json()
    assert {f["code"] for f in chuo["items"]} == {"chuo-kominkan", "bunka-center"}
    big = (await fb.client.get("/v1/facilities", params={"min_capacity": 301})).json()
    assert [f["code"] for f in big["items"]] == ["bunka-center"]
    missing = await fb.client.get("/v1/facilities/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    bad = await fb.client.get("/v1/facilities", params={"cursor": "!!"})
    assert bad.status_code == 422
