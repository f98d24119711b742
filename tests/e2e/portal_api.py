"""What the portal tests do outside the browser, through the public API like any client: the
staff steps of another desk (a TOTP login of a demo staff member)."""

from __future__ import annotations

from typing import Any

import httpx

from deploy.demo_identities import current_totp, identity


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
