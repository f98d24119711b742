"""What a test session holds: the plugin's loop thread, the running suite on it, the demo
identities' tokens and (once a test asks for one) the webhook receiver."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from deploy.testing.logins import Logins
from deploy.testing.loop_thread import LoopThread
from deploy.testing.suite import READY_WITHIN_SECONDS, Suite, SuiteOptions, start
from deploy.testing.webhooks import WebhookReceiver

STOP_WITHIN_SECONDS = 60.0


class SuiteSession:
    def __init__(self, var_dir: Path, options: SuiteOptions) -> None:
        began = time.monotonic()
        self.thread = LoopThread()
        self._running = start(var_dir, options)
        try:
            self.suite: Suite = self.thread.run(
                self._running.__aenter__(),
                within=READY_WITHIN_SECONDS + 30,  # its own limit first
            )
        except BaseException:
            self.thread.close()
            raise
        self.suite.ready_seconds = time.monotonic() - began  # with the imports on the way
        self.logins = Logins(self.suite.gateway_url, self.suite.demo_client_secret)
        self._receiver: WebhookReceiver | None = None
        self._receiver_server: Any = None

    def receiver(self) -> WebhookReceiver:
        if self._receiver is None:
            self._receiver = self.thread.run(self._serve_receiver(), within=READY_WITHIN_SECONDS)
        return self._receiver

    async def _serve_receiver(self) -> WebhookReceiver:
        import asyncio

        from deploy.serve import Server, serve_until_stopped, server_config

        receiver = WebhookReceiver()
        server = Server(server_config(receiver, "127.0.0.1", 0, lifespan="off"))
        task = asyncio.create_task(serve_until_stopped(server, "webhook receiver"))
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait([task, listening], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            listening.cancel()
            task.result()
        receiver.base_url = f"http://127.0.0.1:{server.port}"
        self._receiver_server = (server, task)
        return receiver

    async def _stop_receiver(self) -> None:
        if self._receiver_server is not None:
            server, task = self._receiver_server
            server.should_exit = True
            await task

    def stop(self) -> None:
        try:
            self.thread.run(self._stop_receiver(), within=STOP_WITHIN_SECONDS)
            with contextlib.suppress(StopAsyncIteration):
                self.thread.run(
                    self._running.__aexit__(None, None, None), within=STOP_WITHIN_SECONDS
                )
        finally:
            self.thread.close()
