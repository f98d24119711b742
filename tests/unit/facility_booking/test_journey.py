"""The whole journey over real HTTP: the gateway, payments_mock, alert_mail (mail into a real
SMTP sink) and facility_booking each on uvicorn, the service receiving payments_mock's
signed webhooks. Register, approve, enter a lottery, draw, verify, confirm and pay the win at
a konbini, book first-come by card, cancel with a partial refund, and a waitlist offer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from deploy.cli import app as cli_app
from deploy.lottery_cli import fetch_round
from deploy.mailsink import MailSink
from gateway.app import create_app as gateway_app
from gateway.rate_limit.settings import RateLimitSettings
from gateway.settings import GatewaySettings
from gateway.tokens import issue_access_token
from services.alert_mail.app import create_app as alert_mail_app
from services.alert_mail.delivery.hooks import delivery_worker
from services.alert_mail.notifications_service import upsert_seed_templates
from services.alert_mail.settings import Settings as AlertMailSettings
from services.facility_booking.app import create_app as facility_app
from services.facility_booking.domain.lottery_draw import verify
from services.facility_booking.seed import seed
from services.facility_booking.settings import Settings as FacilitySettings
from services.kit.app import RuntimeOptions, ServiceRuntime
from services.kit.assurance import Acr
from services.kit.auth import PrincipalKind
from services.kit.payments import payments_runtime
from services.payments_mock.app import create_app as payments_mock_app
from services.payments_mock.settings import Settings as PaymentsSettings
from tests.support.apps import started
from tests.support.databases import backends, database_url
from tests.unit.facility_booking.support import CITY, open_weekday
from tests.unit.kit_payments.conftest import Served

GYM = "sogo-taiikukan"


@dataclass
class Stack:
    gateway: Served
    payments: Served
    alert_mail: Served
    booking: Served
    sink: MailSink
    http: httpx.AsyncClient

    @staticmethod
    def runtime(served: Served) -> ServiceRuntime:
        runtime: ServiceRuntime = served.app.state.runtime
        return runtime

    def headers(
        self,
        sub: str,
        *,
        kind: PrincipalKind = "citizen",
        department: str | None = None,
        roles: tuple[str, ...] = (),
        acr: str | None = "password",
    ) -> dict[str, str]:
        runtime = self.gateway.app.state.runtime
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

    def staff(self) -> dict[str, str]:
        return self.headers(
            "stf_sports", kind="staff", department="sports", roles=("staff",), acr=Acr.MFA
        )

    async def booking_jobs(self) -> None:
        runtime = self.runtime(self.booking)
        runs = await runtime.scheduler.run_due(force=True)
        assert all(r.ok for r in runs), runs
        await runtime.relay.run_once()

    async def payments_deliver(self) -> None:
        """payments_mock's due jobs (settlement) and its outbox (signed webhooks)."""
        runtime = self.runtime(self.payments)
        await runtime.scheduler.run_due()
        await runtime.relay.run_once()

    async def service_headers(self) -> dict[str, str]:
        token = await self.runtime(self.booking).service_token.token()
        return {"Authorization": f"Bearer {token}"}

    def advance(self, delta: timedelta) -> None:
        for served in (self.booking, self.payments):
            self.runtime(served).clock.advance(delta)


@pytest.fixture(params=backends())
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    async with AsyncExitStack() as exits:
        databases = {
            name: await exits.enter_async_context(
                database_url(
                    request.param, tmp_path, name=name, prefix=f"cityhall_fbjourney_{name}"
                )
            )
            for name in ("payments", "alert_mail", "booking")
        }
        sink = await exits.enter_async_context(MailSink(port=0))
        servers = [Served() for _ in range(4)]
        for server in servers:
            await server.start()
            exits.push_async_callback(server.stop)
        gateway, payments, alert_mail, booking = servers
        upstreams = {
            "payments_mock": payments.url,
            "alert_mail": alert_mail.url,
            "facility_booking": booking.url,
        }
        gateway.app = await exits.enter_async_context(
            started(
                gateway_app(
                    GatewaySettings(
                        environment="test",
                        var_dir=tmp_path / "gateway",
                        log_access=False,
                        upstreams=upstreams,
                        rate_limits=RateLimitSettings(enabled=False),
                        routes={
                            p: s for p, s in GatewaySettings().routes.items() if s in upstreams
                        },
                    )
                )
            )
        )
        quiet = RuntimeOptions(background=False)
        common: dict[str, Any] = {
            "environment": "test",
            "log_access": False,
            "gateway_url": gateway.url,
        }
        payments.app = await exits.enter_async_context(
            started(
                payments_mock_app(
                    PaymentsSettings(database_url=databases["payments"], **common), quiet
                )
            )
        )
        alert_mail.app = await exits.enter_async_context(
            started(
                alert_mail_app(
                    AlertMailSettings(
                        database_url=databases["alert_mail"],
                        smtp_host=sink.host,
                        smtp_port=sink.port,
                        **common,
                    ),
                    quiet,
                )
            )
        )
        async with Stack.runtime(alert_mail).db.session() as session:
            await upsert_seed_templates(
                session, "デモ市", now=Stack.runtime(alert_mail).clock.now()
            )
        booking.app = await exits.enter_async_context(
            started(
                facility_app(
                    FacilitySettings(
                        database_url=databases["booking"], port=booking.port, **common
                    ),
                    quiet,
                )
            )
        )
        async with Stack.runtime(booking).db.session() as session:
            await seed(session, CITY)
        assert await payments_runtime(Stack.runtime(booking)).registrar.ensure()
        http = await exits.enter_async_context(httpx.AsyncClient(base_url=gateway.url, timeout=30))
        yield Stack(gateway, payments, alert_mail, booking, sink, http)


async def _mails(stack: Stack, to: str, subject_part: str) -> list[Any]:
    """The mails to `to` whose subject has `subject_part`, after facility_booking's outbox
    reached alert_mail and alert_mail's delivery worker sent what it holds."""
    await Stack.runtime(stack.booking).relay.run_once()
    await delivery_worker(stack.alert_mail.app).run_once()
    return [m for m in stack.sink.store.select(to=to) if subject_part in (m.subject or "")]


async def test_the_whole_journey(stack: Stack) -> None:
    http = stack.http
    users = {}
    for sub in ("cit_hanako", "cit_taro"):
        created = await http.post(
            "/v1/facility-users",
            headers=stack.headers(sub),
            json={
                "applicant_type": "group",
                "name": "代表 花子",
                "group_name": "デモ市バレー部",
                "representative_name": "代表 花子",
                "member_count": 12,
                "residency": "resident",
                "residency_basis": "living",
                "email": f"{sub}@example.jp",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "pending"
        approved = await http.post(
            f"/v1/facility-users/{created.json()['id']}/approve", headers=stack.staff()
        )
        assert approved.status_code == 200, approved.text
        users[sub] = approved.json()

    # The lottery: a round for a month two months ahead, one entry each for the arena.
    clock = Stack.runtime(stack.booking).clock
    now = clock.now()
    first = (now.date() + timedelta(days=70)).replace(day=1)
    day = open_weekday(first + timedelta(days=7))
    opened = await http.post(
        "/v1/lotteries",
        headers=stack.staff(),
        json={
            "facility_code": GYM,
            "target_month": first.isoformat()[:7],
            "unit_codes": ["arena-full", "arena-half-a", "arena-half-b"],
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(),
            "draw_at": (now + timedelta(days=2)).isoformat(),
            "confirm_by": (now + timedelta(days=5)).isoformat(),
            "first_come_opens_at": (now + timedelta(days=6)).isoformat(),
        },
    )
    assert opened.status_code == 201, opened.text
    round_id = opened.json()["id"]
    entries = {}
    for sub, unit in (("cit_hanako", "arena-full"), ("cit_taro", "arena-half-a")):
        entered = await http.post(
            f"/v1/lotteries/{round_id}/entries",
            headers=stack.headers(sub),
            json={"unit_code": unit, "day": day.isoformat(), "slot_code": "night"},
        )
        assert entered.status_code == 201, entered.text
        entries[sub] = entered.json()["id"]
    drawn = await http.post(f"/v1/lotteries/{round_id}/draw", headers=stack.staff())
    assert drawn.status_code == 409  # the entry window is still open
    stack.advance(timedelta(days=1, minutes=1))
    drawn = await http.post(f"/v1/lotteries/{round_id}/draw", headers=stack.staff())
    assert drawn.status_code == 200, drawn.text
    published, listed = await fetch_round(http, round_id)  # what `cityhall lottery verify` reads
    verdict = verify(published["seed"], published["commitment"], published["units"], listed)
    assert verdict.ok, verdict.problems
    cli = await asyncio.to_thread(
        CliRunner().invoke, cli_app, ["lottery", "verify", round_id, "--url", stack.gateway.url]
    )
    assert cli.exit_code == 0, cli.output
    assert cli.output.startswith(f"OK {round_id}")
    (winner_entry,) = verdict.winners  # the whole arena and its half exclude each other
    winner = next(sub for sub, entry in entries.items() if entry == winner_entry)
    loser = next(sub for sub in entries if sub != winner)
    assert await _mails(stack, f"{winner}@example.jp", "抽選結果")
    assert await _mails(stack, f"{loser}@example.jp", "抽選結果")

    # The winner confirms with a konbini slip, pays it at the store; the webhook confirms.
    confirmed = await http.post(
        f"/v1/lotteries/{round_id}/entries/{winner_entry}/confirm",
        headers=stack.headers(winner),
        json={"payment_method": "konbini"},
    )
    assert confirmed.status_code == 201, confirmed.text
    reservation = confirmed.json()
    assert reservation["status"] == "held"
    await stack.booking_jobs()  # the slip is made at payments_mock after the commit
    held = (
        await http.get(f"/v1/reservations/{reservation['id']}", headers=stack.headers(winner))
    ).json()
    store = next(s for s in held["payment_details"]["konbini"]["stores"] if s["chain"] == "lawson")
    assert held["payment_id"].startswith("pay_")
    assert await _mails(stack, f"{winner}@example.jp", "納付期限")
    paid = await http.post(
        "/v1/simulate/konbini/payments",
        headers=await stack.service_headers(),
        json={
            "chain": store["chain"],
            "payment_code": store["payment_code"],
            "confirmation_number": store["confirmation_number"],
        },
    )
    assert paid.status_code == 200, paid.text
    await stack.payments_deliver()  # the signed webhook, over HTTP, to facility_booking
    after = (
        await http.get(f"/v1/reservations/{reservation['id']}", headers=stack.headers(winner))
    ).json()
    assert after["status"] == "confirmed"
    assert after["paid_amount"] == reservation["fee"]["amount"] > 0
    assert await _mails(stack, f"{winner}@example.jp", "予約が確定")

    # A slip for a hold cancelled before paying is voided at payments_mock.
    slip_day = open_weekday(clock.now().date() + timedelta(days=12)).isoformat()
    slip = await http.post(
        "/v1/reservations",
        headers=stack.headers(loser),
        json={
            "facility_code": GYM,
            "unit_code": "budojo",
            "day": slip_day,
            "slot_code": "am",
            "payment_method": "payeasy",
        },
    )
    assert slip.status_code == 201, slip.text
    await stack.booking_jobs()
    with_slip = (
        await http.get(f"/v1/reservations/{slip.json()['id']}", headers=stack.headers(loser))
    ).json()
    assert with_slip["payment_details"]["payeasy"]["customer_number"]
    dropped = await http.post(
        f"/v1/reservations/{slip.json()['id']}/cancel", headers=stack.headers(loser)
    )
    assert dropped.status_code == 200, dropped.text
    await stack.booking_jobs()
    voided = await http.get(
        f"/v1/payments/{with_slip['payment_id']}", headers=await stack.service_headers()
    )
    assert voided.json()["status"] == "canceled", voided.text

    # First-come, by card, five days ahead; then a cancellation inside the 50 % tier.
    soon = open_weekday(clock.now().date() + timedelta(days=5))
    booked = await http.post(
        "/v1/reservations",
        headers=stack.headers(loser),
        json={
            "facility_code": GYM,
            "unit_code": "budojo",
            "day": soon.isoformat(),
            "slot_code": "pm",
            "payment_method": "card",
        },
    )
    assert booked.status_code == 201, booked.text
    rid = booked.json()["id"]
    declined = await http.post(
        f"/v1/reservations/{rid}/card-payment",
        headers=stack.headers(loser),
        json={"card_number": "4000000000000002"},
    )
    assert declined.status_code == 422
    charged = await http.post(
        f"/v1/reservations/{rid}/card-payment",
        headers=stack.headers(loser),
        json={"card_number": "4242424242424242"},
    )
    assert charged.status_code == 200, charged.text
    assert charged.json()["status"] == "confirmed"
    fee = charged.json()["paid_amount"]

    # A third user waits for that slot.
    third = await http.post(
        "/v1/facility-users",
        headers=stack.headers("cit_jiro", acr="jpki"),
        json={
            "applicant_type": "individual",
            "name": "次郎",
            "residency": "resident",
            "residency_basis": "working",
            "email": "cit_jiro@example.jp",
        },
    )
    assert third.json()["status"] == "approved"  # card-verified: approved at once
    waiting = await http.post(
        "/v1/reservations/waitlist",
        headers=stack.headers("cit_jiro"),
        json={
            "facility_code": GYM,
            "unit_code": "budojo",
            "day": soon.isoformat(),
            "slot_code": "pm",
        },
    )
    assert waiting.status_code == 201, waiting.text
    assert waiting.json()["position"] == 1

    stack.advance(timedelta(days=1))  # 4 days before: 50 %
    await stack.payments_deliver()  # the card payment settles meanwhile (確報)
    cancelled = await http.post(f"/v1/reservations/{rid}/cancel", headers=stack.headers(loser))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refund_percent"] == 50
    assert cancelled.json()["refund_amount"] == fee // 2
    offer = (await http.get("/v1/reservations/waitlist", headers=stack.headers("cit_jiro"))).json()
    assert offer["items"][0]["status"] == "offered"
    assert await _mails(stack, "cit_jiro@example.jp", "キャンセル待ち")
    accepted = await http.post(
        f"/v1/reservations/waitlist/{offer['items'][0]['id']}/accept",
        headers=stack.headers("cit_jiro"),
        json={"payment_method": "card"},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["status"] == "held"

    for _ in range(10):  # the refund waits for settlement (確報); each pass is one more day
        await stack.booking_jobs()
        payment = await http.get(
            f"/v1/payments/{charged.json()['payment_id']}", headers=await stack.service_headers()
        )
        if payment.json()["amount_refunded"]:
            break
        stack.advance(timedelta(days=1))
        await stack.payments_deliver()
    assert payment.json()["status"] == "partially_refunded", payment.text
    assert payment.json()["amount_refunded"] == fee // 2
    assert await _mails(stack, f"{loser}@example.jp", "取り消され")
