"""A real SMTP sink that stores every message and, after `hold_after` of them, holds its
replies until the test releases them: the sending worker is then certainly mid-batch, with
every connection waiting on a reply."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.mailsink import MailSink, MailStore, SinkHandler


class HoldingHandler(SinkHandler):
    def __init__(self, store: MailStore, hold_after: int) -> None:
        super().__init__(store)
        self.hold_after = hold_after
        self.holding = asyncio.Event()
        self.released = asyncio.Event()
        self.held = 0  # replies waiting for the release now
        self._changed = asyncio.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.store) >= self.hold_after and not self.released.is_set():
            self.holding.set()
            async with self._changed:
                self.held += 1
                self._changed.notify_all()
            await self.released.wait()
        return reply

    async def wait_held(self, count: int) -> None:
        """Until `count` replies are held (every connection of a sender that has `count`)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.held >= count)


@contextlib.asynccontextmanager
async def holding_sink(
    hold_after: int, *, capacity: int = 10_000
) -> AsyncIterator[tuple[MailSink, HoldingHandler]]:
    sink = MailSink(port=0, capacity=capacity)
    handler = HoldingHandler(sink.store, hold_after)
    sink.handler = handler
    await sink.serve()
    try:
        yield sink, handler
    finally:
        handler.released.set()
        await sink.close()
