"""Problems answered by the gateway's pure-ASGI layers (proxy, rate limiter), in the same
RFC 9457 shape as the problems of its FastAPI routes."""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import Send

from services.kit.errors import AppError
from services.kit.problems import PROBLEM_JSON, problem_body


async def send_app_error(
    send: Send,
    exc: AppError,
    request_id: str,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    body = json.dumps(
        problem_body(
            exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            request_id=request_id,
            extensions=exc.extensions,
        )
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    headers.extend((k.lower().encode(), v.encode()) for k, v in exc.headers.items())
    headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
