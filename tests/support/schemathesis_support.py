"""Sending schemathesis cases to an app under test (the harness the schemathesis tests share)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from starlette.testclient import TestClient


def send(client: TestClient, case: Any, auth: Mapping[str, str]) -> httpx.Response:
    """Sends a generated `case` through `client` with the `auth` headers (a real token) in
    place of any generated Authorization header. A form body (a dict) goes as form fields,
    any other raw body as bytes."""
    headers = {
        **auth,
        **{k: str(v) for k, v in (case.headers or {}).items() if k.lower() != "authorization"},
    }
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        body["data" if isinstance(kwargs["data"], dict) else "content"] = kwargs["data"]
    response: httpx.Response = client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        **body,
    )
    return response
