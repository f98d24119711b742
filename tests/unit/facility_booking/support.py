"""The facility_booking service behind a real gateway, in one process: requests go through the
gateway's proxy, tokens are the gateway's own EdDSA JWTs, and the service fetches the gateway's
JWKS and ships its audit events to it over in-process HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jpholiday
from fastapi import FastAPI

from gateway.app import create_app as create_gateway
from gateway.runtime import GatewayRuntime
from gateway.settings import default_routes
from gateway.tokens import issue_access_token
from services.facility_booking.app import create_app
from services.facility_booking.seed import seed
from services.facility_booking.settings import Settings
from services.kit.app import RuntimeOptions
from services.kit.assurance import Acr
from services.kit.auth import PrincipalKind
from services.kit.clock import JST, Clock
from tests.unit.gateway_app.support import gateway_settings

CITY: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "deploy/seed/demo_city.json").read_text("utf-8")
)
GATEWAY_URL = "http://gateway.test"
SPORTS = "sports"  # スポーツ振興課 manages the gym and the sports park
HALLS = "shogai-gakushu"  # 生涯学習課 manages the community halls and the culture centre


@dataclass
class Suite:
    gateway: FastAPI
    service: FastAPI
    client: httpx.AsyncClient

    @property
    def clock(self) -> Clock:
        clock: Clock = self.service.state.clock
        return clock

    def headers(
        self,
        sub: str,
        *,
        kind: PrincipalKind = "citizen",
        roles: Iterable[str] = (),
        department: str | None = None,
        acr: str | None = "password",
    ) -> dict[str, str]:
        runtime: GatewayRuntime = self.gateway.state.runtime
        assert runtime.keystore is not None
        token = issue_access_token(
            runtime.keystore,
            sub=sub,
            kind=kind,
            roles=roles,
            department=department,
            acr=acr,
            ttl=900,
            issuer=runtime.settings.issuer,
            audience=runtime.settings.audience,
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {token}"}

    def citizen(self, sub: str, acr: str = "password") -> dict[str, str]:
        return self.headers(sub, acr=acr)

    def staff(self, sub: str = "stf_sports", department: str = SPORTS) -> dict[str, str]:
        return self.headers(sub, kind="staff", roles=("staff",), department=department, acr=Acr.MFA)

    async def register(
        self, sub: str, *, residency: str = "resident", jpki: bool = True, **extra: Any
    ) -> dict[str, Any]:
        """A registered user (approved at once with a card login, unless `jpki=False`)."""
        body: dict[str, Any] = {
            "applicant_type": "individual",
            "name": f"利用者 {sub}",
            "residency": residency,
            "email": f"{sub}@example.jp",
            **({"residency_basis": "living"} if residency == "resident" else {}),
            **extra,
        }
        headers = self.citizen(sub, acr="jpki" if jpki else "password")
        response = await self.client.post("/v1/facility-users", json=body, headers=headers)
        assert response.status_code == 201, response.text
        registration: dict[str, Any] = response.json()
        return registration

    async def book(self, sub: str, **body: Any) -> httpx.Response:
        return await self.client.post("/v1/reservations", json=body, headers=self.citizen(sub))

    async def run_jobs(self) -> None:
        """Every job now (as `POST /sim/tick?force=true` does), then the outbox."""
        runtime = self.service.state.runtime
        runs = await runtime.scheduler.run_due(force=True)
        assert all(r.ok for r in runs), runs
        await runtime.relay.run_once()


class _Deferred(httpx.AsyncBaseTransport):
    """The service's transport to the gateway, which is built after the service."""

    inner: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self.inner is not None
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def suite(database_url: str, tmp_path: Path, *, seeded: bool = True) -> AsyncIterator[Suite]:
    to_gateway = _Deferred()
    service = create_app(
        Settings(
            database_url=database_url,
            environment="test",
            gateway_url=GATEWAY_URL,
            public_url=GATEWAY_URL,
        ),
        RuntimeOptions(http_transport=to_gateway, background=False),
    )
    routes = {p: s for p, s in default_routes().items() if s == "facility_booking"}
    gateway = create_gateway(
        gateway_settings(
            tmp_path,
            routes=routes,
            upstreams={"facility_booking": "http://facility-booking.invalid"},
            public_url=GATEWAY_URL,
        ),
        upstream_apps={"facility_booking": service},
    )
    to_gateway.inner = httpx.ASGITransport(gateway, raise_app_exceptions=False)
    transport = httpx.ASGITransport(gateway, raise_app_exceptions=False)
    async with (
        gateway.router.lifespan_context(gateway),
        service.router.lifespan_context(service),
        httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client,
    ):
        if seeded:
            async with service.state.db.session() as session:
                await seed(session, CITY)
        yield Suite(gateway, service, client)


def open_weekday(
    start: date, closed_weekdays: Iterable[int] = (0,), weekday: int | None = None
) -> date:
    """The first day from `start` that is a working day (no holiday), not closed, not in the
    new year break, and (if given) on `weekday`."""
    day = start
    while True:
        if (
            day.weekday() < 5
            and not jpholiday.is_holiday(day)
            and day.weekday() not in set(closed_weekdays)
            and not ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3))
            and (weekday is None or day.weekday() == weekday)
        ):
            return day
        day += timedelta(days=1)


def today() -> date:
    return datetime.now(JST).date()
