"""Every error of every service is an RFC 9457 problem naming the request id, never a trace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app
from services.kit.auth import Public
from services.kit.deps import SessionDep
from services.kit.errors import IllegalTransition
from services.kit.schemas import WriteModel
from services.kit.settings import ServiceSettings
from tests.support.apps import running
from tests.support.services import SERVICES
from tests.support.tokens import TokenFactory
from tests.unit.kit.kitdb import EMPTY_MIGRATIONS

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int
    name: str


class Strict(WriteModel):
    amount: int
    paid: bool | None = None


def _troublemaker_router() -> APIRouter:
    router = APIRouter()

    @router.post("/echo")
    async def echo(body: Echo, _: Public) -> Echo:
        return body

    @router.post("/strict")
    async def strict(body: Strict, _: Public) -> Strict:
        return body

    @router.get("/boom")
    async def boom(_: Public) -> None:
        raise RuntimeError("secret internal detail: password=hunter2")

    @router.get("/sql")
    async def sql(session: SessionDep, _: Public) -> None:
        await (await session.connection()).execute(text("SELECT * FROM no_such_table_xyz"))

    @router.post("/dup")
    async def dup(session: SessionDep, _: Public) -> None:
        connection = await session.connection()
        await connection.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO t (id) VALUES (1)"))
        await connection.execute(text("INSERT INTO t (id) VALUES (1)"))

    @router.get("/pool")
    async def pool(_: Public) -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached, timeout 30.00")

    @router.post("/transition")
    async def transition(_: Public) -> None:
        raise IllegalTransition("settled", "cancel")

    return router


@pytest.fixture
async def app_client(db_url: str, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(
        service_name="troublemaker", database_url=db_url, environment="test", max_body_bytes=2048
    )
    app = create_service_app(
        ServiceSpec(
            name="troublemaker",
            title="t",
            description="t",
            settings=settings,
            routers=[_troublemaker_router()],
            migrations=EMPTY_MIGRATIONS,
            options=RuntimeOptions(key_source=tokens.key_source(), background=False),
        )
    )
    async with running(app) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert isinstance(body, dict)
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"] == f"/problems/{slug}"
    assert body["instance"] == response.headers["x-request-id"]
    return body


async def test_validation_error_names_each_field(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post("/echo", json={"amount": "lots", "extra": 1})
    body = assert_problem(response, 422, "validation-error")
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"amount", "name", "extra"}


async def test_malformed_json_is_a_400_problem_saying_where(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post(
        "/echo",
        content=b'{\n  "amount": 1,\n  not json',
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 400, "malformed-json")
    errors = body["errors"]
    assert isinstance(errors, list)
    [error] = errors
    assert (error["line"], error["column"]) == (3, 3)
    assert error["field"] == "body"
    assert "line 3, column 3" in str(body["detail"])


async def test_a_form_or_text_body_on_a_json_endpoint_is_a_415(
    app_client: httpx.AsyncClient,
) -> None:
    form = await app_client.post("/echo", data={"amount": "1", "name": "a"})
    assert_problem(form, 415, "unsupported-media-type")
    text = await app_client.post(
        "/echo", content=b'{"amount": 1, "name": "a"}', headers={"content-type": "text/plain"}
    )
    assert_problem(text, 415, "unsupported-media-type")
    bare = await app_client.post("/echo", content=b'{"amount": 1, "name": "a"}')
    assert_problem(bare, 415, "unsupported-media-type")
    suffixed = await app_client.post(
        "/echo",
        content=b'{"amount": 1, "name": "a"}',
        headers={"content-type": "application/merge-patch+json; charset=utf-8"},
    )
    assert suffixed.status_code == 200


async def test_write_models_take_no_numbers_or_booleans_from_strings(
    app_client: httpx.AsyncClient,
) -> None:
    response = await app_client.post("/strict", json={"amount": "3000", "paid": "true"})
    body = assert_problem(response, 422, "validation-error")
    codes = {e["field"]: e["code"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert codes == {"amount": "int_type", "paid": "bool_type"}
    assert (await app_client.post("/strict", json={"amount": 3000, "paid": True})).json() == {
        "amount": 3000,
        "paid": True,
    }


async def test_unknown_route_and_wrong_method(app_client: httpx.AsyncClient) -> None:
    assert_problem(await app_client.get("/nowhere"), 404, "not-found")
    response = await app_client.delete("/echo")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"


async def test_unexpected_error_hides_everything_but_the_request_id(
    app_client: httpx.AsyncClient,
) -> None:
    response = await app_client.get("/boom", headers={"X-Request-ID": "req-boom-1"})
    body = assert_problem(response, 500, "internal-error")
    assert body["instance"] == "req-boom-1"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text


async def test_sql_errors_never_reach_the_client(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/sql")
    assert response.status_code == 500
    assert "no_such_table_xyz" not in response.text
    assert "SELECT" not in response.text


async def test_a_pool_with_no_free_connection_is_a_503_to_retry_not_a_500(
    app_client: httpx.AsyncClient,
) -> None:
    response = await app_client.get("/pool")
    body = assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == "1"
    assert "QueuePool" not in str(body)


async def test_integrity_error_is_a_409(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post("/dup")
    body = assert_problem(response, 409, "conflict")
    assert "INSERT" not in str(body)


async def test_illegal_transition_names_the_current_state(app_client: httpx.AsyncClient) -> None:
    body = assert_problem(await app_client.post("/transition"), 409, "illegal-transition")
    assert body["current_state"] == "settled"


async def test_oversized_body_is_refused(app_client: httpx.AsyncClient) -> None:
    big = {"amount": 1, "name": "x" * 5000}
    assert_problem(await app_client.post("/echo", json=big), 413, "payload-too-large")


async def test_oversized_streamed_body_is_refused(app_client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    response = await app_client.post(
        "/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large")


async def test_nul_byte_in_query_is_refused(app_client: httpx.AsyncClient) -> None:
    assert_problem(await app_client.get("/nowhere?x=%00"), 400, "bad-request")
    assert_problem(await app_client.get("/nowhere/a%00b"), 400, "bad-request")


async def test_request_id_is_echoed_or_created(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    invalid = await app_client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert invalid.headers["x-request-id"] != "bad id with spaces"
    assert len(invalid.headers["x-request-id"]) == 32


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_each_service_answers_problems_for_404_405_and_422(
    name: str, tmp_path: object, tokens: TokenFactory
) -> None:
    app: FastAPI = SERVICES[name](
        f"sqlite+aiosqlite:///{tmp_path}/{name}.db",
        RuntimeOptions(key_source=tokens.key_source(), background=False),
    )
    async with running(app) as client:
        assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")
        assert_problem(await client.delete("/healthz"), 405, "method-not-allowed")
        assert_problem(await client.post("/sim/clock", json={}), 401, "unauthorized")
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == {"database": "ok"}


async def test_metrics_count_requests_by_route_template(app_client: httpx.AsyncClient) -> None:
    await app_client.post("/echo", json={"amount": 1, "name": "a"})
    await app_client.post("/echo", json={"amount": "x"})
    text = (await app_client.get("/metrics")).text
    assert 'route="/echo",service="troublemaker",status="200"} 1.0' in text
    assert 'route="/echo",service="troublemaker",status="422"} 1.0' in text
    assert "http_request_duration_seconds_bucket" in text
