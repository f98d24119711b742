"""An event loop on a thread of its own, for what runs all session long (the in-process suite,
the webhook receiver) whatever event loop, if any, each test runs on."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "cityhall-suite") -> None:
        from deploy.serve import loop_factory

        factory = loop_factory()
        self.loop = factory() if factory is not None else asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(
        self, coroutine: Coroutine[Any, Any, T], *, within: float, unwind_within: float = 60.0
    ) -> T:
        """Runs `coroutine` on the thread's loop and waits here for its result. When it takes
        longer than `within`, or this thread is interrupted (Ctrl-C), it is cancelled and
        given `unwind_within` seconds to clean up (stop the servers and processes it
        started) before the error is raised here."""
        finished = threading.Event()

        async def bounded() -> T:
            try:
                return await asyncio.wait_for(coroutine, within)
            finally:
                finished.set()

        future = asyncio.run_coroutine_threadsafe(bounded(), self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            finished.wait(unwind_within)
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
