"""`ServerErrorGuard`: the last resort for the gateway's pure-ASGI layers, which run in
front of FastAPI's own error handling. An unexpected exception becomes a logged 500 problem
(never a traceback or the server's plain-text page); after the response has started it can
only cut the stream, so it is raised on for the server to close the connection."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.asgi_problems import send_app_error
from gateway.headers import request_id_from
from services.kit.context import request_id_var
from services.kit.errors import AppError

log = logging.getLogger("cityhall.gateway")


class ServerErrorGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            request_id = request_id_var.get() or request_id_from(scope["headers"])
            log.exception(
                "%s %s %s failed in the gateway", request_id, scope["method"], scope["path"]
            )
            if started:
                raise
            await send_app_error(send, AppError("the gateway failed; see its log"), request_id)
