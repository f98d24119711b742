from __future__ import annotations

import json
from pathlib import Path

from services.facility_booking.app import create_app
from services.facility_booking.seed import seed
from services.facility_booking.settings import Settings
from services.kit.app import RuntimeOptions
from tests.support.apps import running
from tests.support.tokens import TokenFactory

CITY = json.loads((Path(__file__).parents[3] / "deploy/seed/demo_city.json").read_text("utf-8"))


async def test_facilities_page_with_their_rooms(db_url: str, tokens: TokenFactory) -> None:
    app = create_app(
        Settings(database_url=db_url, environment="test"),
        RuntimeOptions(key_source=tokens.key_source(), background=False),
    )
    async with running(app) as client:
        async with app.state.db.session() as session:
            await seed(session, CITY)
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/facilities", params=params)).json()
            seen += [f["code"] for f in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(f["code"] for f in CITY["facilities"])
        gym = (await client.get("/v1/facilities/sogo-taiikukan")).json()
        assert gym["name_ja"] == "総合体育館"
        assert "アリーナ（半面A）" in {r["name_ja"] for r in gym["rooms"]}
        sports = (await client.get("/v1/facilities", params={"kind": "sports"})).json()
        assert {f["code"] for f in sports["items"]} == {"sogo-taiikukan", "undo-koen"}
        missing = await client.get("/v1/facilities/nope")
        assert missing.status_code == 404
        bad = await client.get("/v1/facilities", params={"cursor": "!!"})
        assert bad.status_code == 422
