"""The simulation clock of the whole suite, moved through the gateway's admin `/sim/clock`
(every service at once) and `/sim/tick` (run the jobs that are due now).

The clock only moves forward, and it is shared by the session: a test that needs a date
travels to it and reads `now()` rather than assuming where earlier tests left the clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx


class SimClock:
    def __init__(self, admin: httpx.AsyncClient) -> None:
        self.admin = admin  # logged in as the demo admin

    @staticmethod
    def _now(answer: httpx.Response) -> datetime:
        answer.raise_for_status()
        return datetime.fromisoformat(answer.json()["gateway"]["now"])

    async def now(self) -> datetime:
        """The suite's simulated time (aware, UTC)."""
        return self._now(await self.admin.get("/sim/clock"))

    async def advance(self, by: timedelta | float) -> datetime:
        """Moves every service's clock forward by `by` (a timedelta or seconds)."""
        seconds = by.total_seconds() if isinstance(by, timedelta) else float(by)
        return self._now(await self.admin.post("/sim/clock", json={"advance_seconds": seconds}))

    async def travel_to(self, moment: datetime) -> datetime:
        """Moves every service's clock to `moment` (aware; later than the suite's now)."""
        if moment.tzinfo is None:
            raise ValueError("travel_to needs an aware datetime (with a UTC offset)")
        body = {"travel_to": moment.isoformat()}
        return self._now(await self.admin.post("/sim/clock", json=body))

    async def tick(self, *, force: bool = False) -> dict[str, Any]:
        """Runs every service's due jobs now (expiry sweeps, reminders, retries, outboxes)."""
        answer = await self.admin.post("/sim/tick", params={"force": "true" if force else "false"})
        answer.raise_for_status()
        report: dict[str, Any] = answer.json()
        return report
