"""Every response of a service carries nosniff; pages also refuse framing and referrers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from starlette.responses import FileResponse, HTMLResponse, StreamingResponse

from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app
from services.kit.auth import Public
from services.kit.errors import Conflict
from services.kit.security_headers import secure_headers
from services.kit.settings import ServiceSettings
from tests.support.apps import running
from tests.support.tokens import TokenFactory
from tests.unit.kit.kitdb import EMPTY_MIGRATIONS


def _pages_router(file_path: Path) -> APIRouter:
    router = APIRouter()

    @router.get("/json")
    async def as_json(_: Public) -> dict[str, int]:
        return {"a": 1}

    @router.get("/problem")
    async def problem(_: Public) -> None:
        raise Conflict("taken", current_state="x")

    @router.get("/page")
    async def page(_: Public) -> HTMLResponse:
        return HTMLResponse("<p>token page</p>")

    @router.get("/page-with-csp")
    async def page_with_csp(_: Public) -> HTMLResponse:
        return HTMLResponse("<p>x</p>", headers={"Content-Security-Policy": "default-src 'none';"})

    @router.get("/stream")
    async def stream(_: Public) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            yield b"data: one\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @router.get("/file")
    async def file(_: Public) -> FileResponse:
        return FileResponse(file_path, media_type="text/calendar")

    @router.get("/boom")
    async def boom(_: Public) -> None:
        raise RuntimeError("unexpected")

    return router


@pytest.fixture
async def client(
    db_url: str, tokens: TokenFactory, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    ics = tmp_path / "a.ics"
    ics.write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    settings = ServiceSettings(service_name="pages", database_url=db_url, environment="test")
    app = create_service_app(
        ServiceSpec(
            name="pages",
            title="t",
            description="t",
            settings=settings,
            routers=[_pages_router(ics)],
            migrations=EMPTY_MIGRATIONS,
            options=RuntimeOptions(key_source=tokens.key_source(), background=False),
        )
    )
    async with running(app) as client:
        yield client


def assert_page_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("path", "status", "content_type"),
    [
        ("/json", 200, "application/json"),
        ("/problem", 409, "application/problem+json"),
        ("/nowhere", 404, "application/problem+json"),
        ("/boom", 500, "application/problem+json"),
        ("/stream", 200, "text/event-stream"),
        ("/file", 200, "text/calendar"),
        ("/healthz", 200, "application/json"),
        ("/metrics", 200, "text/plain"),
    ],
)
async def test_every_response_type_is_nosniff_and_not_a_page(
    client: httpx.AsyncClient, path: str, status: int, content_type: str
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert "x-frame-options" not in response.headers


async def test_pages_refuse_framing_and_referrers(client: httpx.AsyncClient) -> None:
    assert_page_headers(await client.get("/page"))


async def test_a_pages_own_policy_keeps_its_directives_and_gains_frame_ancestors(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/page-with-csp")
    assert_page_headers(response)
    assert response.headers.get_list("content-security-policy") == [
        "default-src 'none'; frame-ancestors 'none'"
    ]


def test_headers_the_app_set_are_kept_not_doubled() -> None:
    given = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", b"frame-ancestors 'self'"),
    ]
    assert secure_headers(given) == given
