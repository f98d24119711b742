"""Revocation reaches every verifier: two gateway processes (`python -m deploy.serve
gateway`) on one database, and a kit service verifying tokens itself. A logout at one
replica, a disabling at the other, a reused refresh token and a revoked My Number card are
refused by both replicas and by the service; with Redis configured and without."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import APIRouter

from deploy.mailsink import MailSink
from gateway.idp.jpki import MockCA
from gateway.idp.jpki_client import Card
from gateway.keys import KeyStore
from gateway.tokens import issue_access_token
from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app
from services.kit.auth import AnyPrincipal
from services.kit.settings import ServiceSettings
from tests.unit.gateway_app.redis_support import redis_for_test
from tests.unit.kit.kitdb import EMPTY_MIGRATIONS as MIGRATIONS

from .helpers import FORM, PASSWORD, bearer, link_in

READY_TIMEOUT = 60.0
PROPAGATION_TIMEOUT = 30.0  # a bound for a hung test, not the 2 s the design gives


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Replica:
    url: str
    process: asyncio.subprocess.Process
    client: httpx.AsyncClient


@asynccontextmanager
async def _replica(env: dict[str, str], log: Path) -> AsyncIterator[Replica]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "deploy.serve",
            "gateway",
            env={**os.environ, **env, "GATEWAY_PORT": str(port), "CITYHALL_PARENT_PID": ""},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await _until_ready(client, process, log)
            yield Replica(url, process, client)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def _until_ready(client: httpx.AsyncClient, process: Any, log: Path) -> None:
    async with asyncio.timeout(READY_TIMEOUT):
        while True:
            if process.returncode is not None:
                output = await asyncio.to_thread(log.read_text)
                pytest.fail(f"the gateway exited: {output[-3000:]}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


def _service(gateway_url: str, tmp_path: Path) -> Any:
    router = APIRouter()

    @router.get("/v1/whoami")
    async def whoami(principal: AnyPrincipal) -> dict[str, str]:
        return {"sub": principal.sub}

    return create_service_app(
        ServiceSpec(
            name="alert_mail",  # a client the gateway knows (svc-alert_mail)
            title="verifier",
            description="a service that verifies the gateway's tokens itself",
            settings=ServiceSettings(
                service_name="alert_mail",
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'service.db'}",
                gateway_url=gateway_url,
            ),
            routers=[router],
            migrations=MIGRATIONS,
            options=RuntimeOptions(background=True),
        )
    )


@dataclass
class Suite:
    a: Replica
    b: Replica
    service: httpx.AsyncClient
    sink: MailSink
    var_dir: Path

    def admin(self) -> dict[str, str]:
        keystore = KeyStore.load_or_create(self.var_dir / "gateway" / "signing-keys.json")
        token = issue_access_token(
            keystore,
            sub="stf_admin",
            kind="staff",
            roles=["admin"],
            ttl=300,
            issuer="cityhall",
            audience="cityhall",
            now=datetime.now(UTC),
        )
        return bearer(token)

    async def statuses(self, token: str) -> list[int]:
        """What the two replicas and the service answer to `token`."""
        headers = bearer(token)
        return [
            (await self.a.client.get("/auth/me", headers=headers)).status_code,
            (await self.b.client.get("/auth/me", headers=headers)).status_code,
            (await self.service.get("/v1/whoami", headers=headers)).status_code,
        ]

    async def until_refused_everywhere(self, token: str) -> None:
        async with asyncio.timeout(PROPAGATION_TIMEOUT):
            while True:  # another process: nothing here to await but its answers
                if await self.statuses(token) == [401, 401, 401]:
                    return
                await asyncio.sleep(0.05)

    async def citizen(self, email: str) -> str:
        response = await self.a.client.post(
            "/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "市民 花子"},
        )
        assert response.status_code == 202, response.text
        (message,) = await self.sink.wait_for(to=email)
        assert message.text is not None
        link = link_in(message.text, "/auth/verify-email")
        page = await self.b.client.get(link)  # the mailed link only shows a button
        assert page.status_code == 200, page.text
        token = parse_qs(urlsplit(link).query)["token"][0]
        verified = await self.b.client.post("/auth/verify-email", json={"token": token})
        assert verified.status_code == 200, verified.text
        account_id: str = verified.json()["id"]
        return account_id

    async def login(self, email: str, replica: Replica) -> dict[str, Any]:
        response = await replica.client.post(
            "/auth/token",
            data={"grant_type": "password", "username": email, "password": PASSWORD},
            headers=FORM,
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        assert await self.statuses(tokens["access_token"]) == [200, 200, 200]
        return tokens


@asynccontextmanager
async def _suite(db_url: str, tmp_path: Path, redis_url: str) -> AsyncIterator[Suite]:
    async with AsyncExitStack() as stack:
        sink = await stack.enter_async_context(MailSink(port=0))
        env = {
            "GATEWAY_DATABASE_URL": db_url,
            "GATEWAY_VAR_DIR": str(tmp_path),
            "GATEWAY_SMTP_HOST": "127.0.0.1",
            "GATEWAY_SMTP_PORT": str(sink.port),
            "GATEWAY_PUBLIC_URL": "http://gateway.test",
            "GATEWAY_PASSWORD_HASH_MEMORY_KIB": "64",
            "GATEWAY_PASSWORD_HASH_TIME_COST": "1",
            "GATEWAY_REDIS_URL": redis_url,
            "GATEWAY_UPSTREAMS": "{}",
            "GATEWAY_ROUTES": "{}",
        }
        # one after the other: the first creates the keys, the CA and the tables
        a = await stack.enter_async_context(_replica(env, tmp_path / "gateway-a.log"))
        b = await stack.enter_async_context(_replica(env, tmp_path / "gateway-b.log"))
        app = _service(a.url, tmp_path)
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        service = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://service.test")
        )
        yield Suite(a, b, service, sink, tmp_path)


async def _revocations_reach_every_verifier(suite: Suite) -> None:
    # logout at A
    await suite.citizen("logout@example.jp")
    tokens = await suite.login("logout@example.jp", suite.a)
    out = await suite.a.client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    assert out.status_code == 204
    await suite.until_refused_everywhere(tokens["access_token"])

    # disabling at B, of a token issued at A
    account_id = await suite.citizen("disable@example.jp")
    tokens = await suite.login("disable@example.jp", suite.a)
    disabled = await suite.b.client.post(
        f"/auth/admin/accounts/{account_id}/disable", headers=suite.admin()
    )
    assert disabled.status_code == 200, disabled.text
    await suite.until_refused_everywhere(tokens["access_token"])
    enabled = await suite.a.client.post(
        f"/auth/admin/accounts/{account_id}/enable", headers=suite.admin()
    )
    assert enabled.status_code == 200

    # a refresh token used twice revokes the session's access tokens too
    await suite.citizen("reuse@example.jp")
    first = await suite.login("reuse@example.jp", suite.b)
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    rotated = await suite.a.client.post("/auth/token", data=form, headers=FORM)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["access_token"]
    reused = await suite.b.client.post("/auth/token", data=form, headers=FORM)
    assert reused.json()["type"].endswith("/refresh-token-reused")
    await suite.until_refused_everywhere(first["access_token"])
    await suite.until_refused_everywhere(second)
    other = await suite.login("reuse@example.jp", suite.a)  # a new session is not affected
    assert other["access_token"] != second

    # a revoked card ends its card-login sessions
    ca = MockCA.load_or_create(suite.var_dir / "gateway" / "jpki")
    card = Card.from_pem(ca.issue_card("山田 花子").file_text)
    challenge = (await suite.a.client.post("/auth/jpki/challenge")).json()
    response = await suite.b.client.post(
        "/auth/jpki/token", json=card.token_request(challenge["nonce"])
    )
    assert response.status_code == 200, response.text
    card_token = response.json()["access_token"]
    assert await suite.statuses(card_token) == [200, 200, 200]
    serial = format(card.certificate.serial_number, "x")
    revoked = await suite.a.client.post(
        "/auth/admin/jpki/revocations",
        json={"serial": serial, "reason": "紛失"},
        headers=suite.admin(),
    )
    assert revoked.status_code == 201, revoked.text
    await suite.until_refused_everywhere(card_token)


async def test_revocation_reaches_both_replicas_and_the_service(
    db_url: str, tmp_path: Path
) -> None:
    async with _suite(db_url, tmp_path, redis_url="") as suite:
        await _revocations_reach_every_verifier(suite)


async def test_revocation_with_redis_between_the_replicas(db_url: str, tmp_path: Path) -> None:
    async with redis_for_test() as redis, _suite(db_url, tmp_path, redis.url) as suite:
        await _revocations_reach_every_verifier(suite)
