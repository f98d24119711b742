"""Sending schemathesis cases to an app under test (the harness the schemathesis tests share)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    unsupported_method,
)
from starlette.testclient import TestClient

PROBLEM = "application/problem+json"


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


CONFORMANCE_CHECKS = [content_type_conformance, allow_header_conformance, unsupported_method]


def assert_conforms(case: Any, response: httpx.Response) -> None:
    """No server error; every error is an RFC 9457 problem (schemathesis never asks for
    text/html, so the mailed-link pages answer it with problems too); the content type is
    documented for the operation and status; a 405 or OPTIONS `Allow` lists exactly the
    documented methods of the path."""
    label = (case.method, case.path, response.status_code, response.text[:300])
    assert response.status_code < 500, label
    if response.status_code >= 400:
        assert response.headers.get("content-type", "").startswith(PROBLEM), label
    case.validate_response(response, checks=CONFORMANCE_CHECKS)
