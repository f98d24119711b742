"""The sign-up form's reference lists come from the demo city's seed data, shaped and paged
like every other list."""

from __future__ import annotations

from tests.unit.alert_mail.conftest import AlertMail


async def test_categories_and_districts_are_listed_in_seed_order(alert_mail: AlertMail) -> None:
    categories = (await alert_mail.client.get("/v1/categories")).json()
    districts = (await alert_mail.client.get("/v1/districts")).json()
    assert categories.keys() == {"items", "next_cursor"}
    assert categories["next_cursor"] is None
    assert [c["code"] for c in categories["items"]][:4] == [
        "disaster",
        "weather",
        "bosai-musen",
        "suspicious-person",
    ]
    assert categories["items"][3]["name_ja"] == "不審者情報"
    assert {d["code"] for d in districts["items"]} == {"chuo", "hokubu", "nanbu", "tobu", "seibu"}


async def test_reference_lists_page_through_cursors(alert_mail: AlertMail) -> None:
    everything = (await alert_mail.client.get("/v1/categories")).json()["items"]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await alert_mail.client.get("/v1/categories", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [c["code"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["code"] for c in everything]
    refused = await alert_mail.client.get("/v1/districts", params={"limit": 101})
    assert refused.status_code == 422
