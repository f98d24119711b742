"""/readyz across every upstream, and /sim/* fanned out with the gateway's own token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt

from tests.support.progress import until_done

from .support import GatewayFactory, Upstream, json_app


def fake_service(name: str, calls: list[dict[str, Any]], *, status: int = 200) -> Any:
    async def handler(info: dict[str, Any]) -> tuple[int, Any]:
        calls.append({"service": name, **info})
        if info["path"] == "/readyz":
            return status, {"status": "ok" if status == 200 else "failing"}
        return status, {"service": name, "path": info["path"], "query": info["query"]}

    return json_app(handler)


async def test_readyz_reports_every_upstream(
    make_gateway: GatewayFactory, upstream: Upstream, closed_port_url: str
) -> None:
    calls: list[dict[str, Any]] = []
    async with make_gateway(
        upstream_apps={"beta": fake_service("beta", calls, status=503)},
        upstreams={"alpha": upstream.url, "beta": "http://unused", "gamma": closed_port_url},
    ) as gw:
        failing = await gw.client.get("/readyz")
    assert failing.status_code == 503
    body = failing.json()
    assert body["checks"] == {"database": "ok"}
    assert body["upstreams"]["alpha"] == {"status": "ok", "http_status": 200}
    assert body["upstreams"]["beta"] == {"status": "failing", "http_status": 503}
    assert body["upstreams"]["gamma"]["status"] == "unreachable"

    async with make_gateway(upstreams={"alpha": upstream.url}) as gw:
        ready = await gw.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


def sim_gateway(calls: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "upstream_apps": {n: fake_service(n, calls) for n in ("one", "two")},
        "upstreams": {"one": "http://unused", "two": "http://unused"},
    }
    values.update(overrides)
    return values


async def test_sim_clock_moves_every_service_with_a_gateway_token(
    make_gateway: GatewayFactory,
) -> None:
    calls: list[dict[str, Any]] = []
    async with make_gateway(**sim_gateway(calls)) as gw:
        admin = gw.token(sub="staff-1", kind="staff", roles=("admin",))
        response = await gw.client.post(
            "/sim/clock",
            json={"advance_seconds": 3600},
            headers={"Authorization": f"Bearer {admin}"},
        )
        offset = gw.runtime.clock.offset.total_seconds()
    assert response.status_code == 200
    body = response.json()
    assert set(body["services"]) == {"one", "two"}
    assert body["services"]["one"]["status"] == "ok"
    assert body["gateway"]["offset_seconds"] == offset == 3600
    assert {c["path"] for c in calls} == {"/sim/clock"}
    for call in calls:
        assert call["body"] == '{"advance_seconds": 3600.0}'
        token = call["headers"]["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["sub"] == "svc-gateway"
        assert claims["kind"] == "service"
        assert claims["scope"] == "sim"


async def test_sim_clock_reads_every_service_clock_without_moving_it(
    make_gateway: GatewayFactory,
) -> None:
    calls: list[dict[str, Any]] = []
    async with make_gateway(**sim_gateway(calls)) as gw:
        admin = gw.token(sub="staff-1", kind="staff", roles=("admin",))
        response = await gw.client.get("/sim/clock", headers={"Authorization": f"Bearer {admin}"})
        citizen = await gw.client.get(
            "/sim/clock", headers={"Authorization": f"Bearer {gw.token()}"}
        )
        offset = gw.runtime.clock.offset.total_seconds()
    assert response.status_code == 200
    body = response.json()
    assert body["gateway"]["offset_seconds"] == offset == 0
    assert body["services"]["two"]["body"]["path"] == "/sim/clock"
    assert [(c["method"], c["path"]) for c in calls] == [("GET", "/sim/clock")] * 2
    assert citizen.status_code == 403


async def test_sim_tick_runs_each_service_in_order(make_gateway: GatewayFactory) -> None:
    calls: list[dict[str, Any]] = []
    async with make_gateway(**sim_gateway(calls)) as gw:
        admin = gw.token(sub="staff-1", kind="staff", roles=("admin",))
        response = await gw.client.post(
            "/sim/tick?force=true", headers={"Authorization": f"Bearer {admin}"}
        )
    assert response.status_code == 200
    assert [c["service"] for c in calls] == ["one", "two"]
    assert all(c["query"] == "force=true" for c in calls)
    assert response.json()["services"]["two"]["body"]["path"] == "/sim/tick"


async def test_sim_needs_admin_and_simulation_mode(make_gateway: GatewayFactory) -> None:
    calls: list[dict[str, Any]] = []
    async with make_gateway(**sim_gateway(calls)) as gw:
        citizen = gw.token()
        anonymous = await gw.client.post("/sim/tick")
        forbidden = await gw.client.post(
            "/sim/tick", headers={"Authorization": f"Bearer {citizen}"}
        )
    async with make_gateway(**sim_gateway(calls), simulation=False) as gw:
        admin = gw.token(sub="staff-1", kind="staff", roles=("admin",))
        off = await gw.client.post("/sim/tick", headers={"Authorization": f"Bearer {admin}"})
    assert anonymous.status_code == 401
    assert forbidden.status_code == 403
    assert off.status_code == 404
    assert calls == []


async def test_a_failing_service_makes_sim_a_502_naming_every_answer(
    make_gateway: GatewayFactory, closed_port_url: str
) -> None:
    calls: list[dict[str, Any]] = []
    async with make_gateway(
        upstream_apps={"one": fake_service("one", calls)},
        upstreams={"one": "http://unused", "down": closed_port_url},
    ) as gw:
        admin = gw.token(sub="staff-1", kind="staff", roles=("admin",))
        response = await gw.client.post("/sim/tick", headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 502
    body = response.json()
    assert body["services"]["one"]["status"] == "ok"
    assert body["services"]["down"]["status"] == "unreachable"
    assert "down" in body["detail"]


async def test_every_gateway_replica_keeps_the_simulated_time_one_of_them_moved(
    make_gateway: GatewayFactory,
) -> None:
    """Two gateways on one database, as two replicas: a move on one reaches the other."""
    calls: list[dict[str, Any]] = []
    async with (
        make_gateway(**sim_gateway(calls)) as first,
        make_gateway(**sim_gateway(calls), clock_poll_seconds=0.05) as second,
    ):
        admin = {"Authorization": f"Bearer {first.token(sub='staff-1', roles=('admin',))}"}
        moved = await first.client.post("/sim/clock", json={"advance_seconds": 7200}, headers=admin)
        assert moved.status_code == 200, moved.text
        assert first.runtime.clock.offset == timedelta(hours=2)
        await until_done(
            lambda: second.runtime.clock.offset == timedelta(hours=2),
            lambda: 0,  # one primary-key read per poll; nothing to count
            what="the second replica following the moved clock",
            stall=60,
        )
        read = await second.client.get("/sim/clock", headers=admin)
    assert read.json()["gateway"]["offset_seconds"] == 7200
