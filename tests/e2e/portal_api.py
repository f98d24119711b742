"""What the portal tests do outside the browser, through the public API like any client: the
staff steps of another desk (a TOTP login of a demo staff member), with the gateway and the
dev mailbox of a stack started for the test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from deploy.demo_identities import current_totp, identity
from tests.e2e.browser import PortalBrowser, portal_browser
from tests.e2e.conftest import Launch, RunningStack


@dataclass(frozen=True, slots=True)
class PortalStack:
    stack: RunningStack
    gateway: httpx.AsyncClient
    mailbox: httpx.AsyncClient
    portal: PortalBrowser


@contextlib.asynccontextmanager
async def portal_stack(launch: Launch, test_name: str) -> AsyncIterator[PortalStack]:
    """`cityhall up --single-process` once ready, API clients to it and the browser."""
    stack = await launch(["--single-process"])
    await stack.wait_ready()
    gateway = httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, trust_env=False)
    mailbox = httpx.AsyncClient(base_url=stack.mailbox_url, timeout=10, trust_env=False)
    async with gateway, mailbox, portal_browser(stack.gateway_url, test_name) as portal:
        yield PortalStack(stack, gateway, mailbox, portal)


async def staff_headers(gateway: httpx.AsyncClient, user: str) -> dict[str, str]:
    """A demo staff member logged in with password and TOTP (amr pwd+otp)."""
    account = identity(user).account
    code, _ = current_totp(user)
    answer = await gateway.post(
        "/auth/token",
        data={
            "grant_type": "password",
            "username": account.email,
            "password": account.password,
            "totp": code,
        },
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def post_ok(
    gateway: httpx.AsyncClient, path: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    answer = await gateway.post(path, json=body, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    result: dict[str, Any] = answer.json()
    return result


async def approve_facility_user(
    gateway: httpx.AsyncClient, staff: dict[str, str], email: str
) -> None:
    """The facility desk approves the one pending 利用者登録 of `email`."""
    pending = (await gateway.get("/v1/facility-users", headers=staff)).json()["items"]
    mine = [r for r in pending if r["email"] == email]
    assert len(mine) == 1, pending
    await post_ok(gateway, f"/v1/facility-users/{mine[0]['id']}/approve", staff, {})
