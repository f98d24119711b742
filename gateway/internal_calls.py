"""Small requests the gateway itself makes to every service (readiness, simulation
controls, OpenAPI), concurrently, each answer or failure reported per service."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from gateway.headers import RawHeaders
from gateway.runtime import GatewayRuntime
from gateway.upstreams import UpstreamResponse
from services.kit.context import current_request_id
from services.kit.errors import AppError, GatewayTimeout, ServiceUnavailable


@dataclass(frozen=True, slots=True)
class CallOutcome:
    service: str
    response: UpstreamResponse | None = None
    error: AppError | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None and 200 <= self.response.status < 300

    @property
    def state(self) -> str:
        if self.response is not None:
            return "ok" if self.ok else "failing"
        if isinstance(self.error, ServiceUnavailable):
            return "unreachable"
        if isinstance(self.error, GatewayTimeout):
            return "timeout"
        return "error"

    def body(self) -> Any:
        if self.response is None:
            return None
        try:
            return self.response.json()
        except ValueError:
            return None

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = {"status": self.state}
        if self.response is not None:
            report["http_status"] = self.response.status
            report["body"] = self.body()
        if self.error is not None:
            report["detail"] = self.error.detail
        return report


def _headers(*, token: str | None, has_json: bool) -> RawHeaders:
    headers: RawHeaders = [(b"accept", b"application/json")]
    request_id = current_request_id()
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if has_json:
        headers.append((b"content-type", b"application/json"))
    return headers


async def call_service(
    runtime: GatewayRuntime,
    service: str,
    method: str,
    path: str,
    *,
    time_limit: float,
    token: str | None = None,
    payload: Any = None,
) -> CallOutcome:
    body = b"" if payload is None else json.dumps(payload).encode()
    try:
        response = await runtime.upstream(service).call(
            method,
            path,
            headers=_headers(token=token, has_json=payload is not None),
            body=body,
            time_limit=time_limit,
        )
    except AppError as exc:
        return CallOutcome(service, error=exc)
    return CallOutcome(service, response=response)


async def call_every_service(
    runtime: GatewayRuntime,
    method: str,
    path: str,
    *,
    time_limit: float,
    token: str | None = None,
    payload: Any = None,
) -> list[CallOutcome]:
    return list(
        await asyncio.gather(
            *(
                call_service(
                    runtime, name, method, path, time_limit=time_limit, token=token, payload=payload
                )
                for name in runtime.upstreams
            )
        )
    )
