"""Redis pub/sub between gateway replicas (when `GATEWAY_REDIS_URL` is set): the replica that
committed a revocation publishes on one channel, the others poll their revocation list at
once instead of at their next interval. The database stays the source of truth; a lost
message only means the next poll applies the entry. redis is imported only when a URL is set."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from services.kit.tasks import cancel_and_wait

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("cityhall.gateway.idp")

CHANNEL = "cityhall:revocations"
RECONNECT_SECONDS = 1.0


class RevocationBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, on_message: Callable[[], None]) -> None:
        if not self.url:
            return
        from redis.asyncio import Redis

        self._client = Redis.from_url(self.url, socket_connect_timeout=2)
        self._task = asyncio.create_task(self._listen(on_message), name="cityhall-revocation-bus")

    async def wait_subscribed(self) -> None:
        """Until this replica listens (tests, to publish only once both replicas do)."""
        if self._task is not None:
            await self._subscribed.wait()

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self) -> None:
        if self._client is None:
            return
        from redis.exceptions import RedisError

        try:
            await self._client.publish(CHANNEL, b"1")
        except (RedisError, OSError) as exc:
            log.warning("revocation bus: publish failed (%s); replicas poll instead", exc)

    async def _listen(self, on_message: Callable[[], None]) -> None:
        assert self._client is not None
        from redis.exceptions import RedisError

        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    on_message()  # anything missed while not subscribed
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            on_message()
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                log.warning("revocation bus: %s; reconnecting", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
