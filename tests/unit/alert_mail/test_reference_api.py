"""The sign-up form's reference lists come from the demo city's seed data."""

from __future__ import annotations

from tests.unit.alert_mail.conftest import AlertMail


async def test_categories_and_districts_are_listed_in_seed_order(alert_mail: AlertMail) -> None:
    categories = (await alert_mail.client.get("/v1/categories")).json()
    districts = (await alert_mail.client.get("/v1/districts")).json()
    assert [c["code"] for c in categories][:4] == [
        "disaster",
        "weather",
        "bosai-musen",
        "suspicious-person",
    ]
    assert categories[3]["name_ja"] == "不審者情報"
    assert {d["code"] for d in districts} == {"chuo", "hokubu", "nanbu", "tobu", "seibu"}
