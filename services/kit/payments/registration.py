"""The webhook endpoint a service registers at payments_mock, and its signing secret.

Kept in the service's own database (`kit_webhook_subscriptions`), so restarts reuse the
endpoint. `ensure()` makes the provider and the row agree: the stored endpoint still exists →
its URL is brought up to date; it is gone → one with our URL is reused with a rotated secret
(the old one is lost), or a new one is registered; duplicates with our URL are deleted, since
their deliveries would be signed with secrets nobody holds. Replicas take a lease on the row
first (a compare-and-set on `claimed_until`), so only one talks to the provider at a time, and
no database lock is held during the HTTP calls.

Registration never blocks a start: `run_until_registered` retries in the background while the
provider is down, and the reconciler covers the gap."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.errors import AppError
from services.kit.payments.client import PaymentsClient
from services.kit.payments.errors import PROVIDER
from services.kit.tables import WebhookSubscription

log = logging.getLogger("cityhall.payments.registration")

LEASE = timedelta(seconds=60)
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class _Claim:
    lease: datetime
    endpoint_id: str | None
    secret: str | None


async def webhook_secret(session: AsyncSession, provider: str = PROVIDER) -> str | None:
    """The secret deliveries from `provider` are signed with; None until registered."""
    row = await session.get(WebhookSubscription, provider)
    return row.secret if row is not None else None


class WebhookRegistrar:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        client: PaymentsClient,
        *,
        url: str,
        description: str,
        provider: str = PROVIDER,
    ) -> None:
        self.db = db
        self.clock = clock
        self.client = client
        self.url = url
        self.description = description
        self.provider = provider
        self.registered = asyncio.Event()  # set once this process has seen a stored secret

    async def is_registered(self) -> bool:
        if self.registered.is_set():
            return True
        async with self.db.session(write=False) as session:
            row = await session.get(WebhookSubscription, self.provider)
            done = row is not None and row.secret is not None and row.url == self.url
        if done:
            self.registered.set()
        return done

    async def _claim(self) -> _Claim | None:
        now = self.clock.now()
        lease = now + LEASE
        try:
            async with self.db.session() as session:
                row = await session.get(WebhookSubscription, self.provider)
                if row is None:
                    session.add(
                        WebhookSubscription(
                            provider=self.provider, claimed_until=lease, updated_at=now
                        )
                    )
                    await session.flush()
                    return _Claim(lease, None, None)
                if row.claimed_until is not None and row.claimed_until > now:
                    return None  # another replica is registering
                result = await session.exec(
                    update(WebhookSubscription)
                    .where(col(WebhookSubscription.provider) == self.provider)
                    .where(
                        or_(
                            col(WebhookSubscription.claimed_until).is_(None),
                            col(WebhookSubscription.claimed_until) == row.claimed_until,
                        )
                    )
                    .values(claimed_until=lease, updated_at=now)
                )
                if getattr(result, "rowcount", 0) != 1:
                    return None
                return _Claim(lease, row.endpoint_id, row.secret)
        except IntegrityError:
            return None  # another replica inserted the row first

    async def _settle(self, claim: _Claim, endpoint_id: str | None, secret: str | None) -> bool:
        """Stores the outcome (or only releases the lease, when `secret` is None)."""
        now = self.clock.now()
        values: dict[str, object] = {"claimed_until": None, "updated_at": now}
        if secret is not None:
            values |= {
                "endpoint_id": endpoint_id,
                "secret": secret,
                "url": self.url,
                "registered_at": now,
            }
        async with self.db.session() as session:
            result = await session.exec(
                update(WebhookSubscription)
                .where(col(WebhookSubscription.provider) == self.provider)
                .where(col(WebhookSubscription.claimed_until) == claim.lease)
                .values(**values)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    async def _register(self, claim: _Claim) -> tuple[str, str, bool]:
        """(endpoint id, secret, whether we created it) after talking to the provider."""
        if claim.endpoint_id and claim.secret:
            remote = await self.client.get_endpoint(claim.endpoint_id)
            if remote is not None:
                if remote.url != self.url or remote.status != "enabled":
                    await self.client.update_endpoint(remote.id, url=self.url)
                return remote.id, claim.secret, False
        ours = [e for e in await self.client.list_endpoints() if e.url == self.url]
        for extra in ours[1:]:
            await self.client.delete_endpoint(extra.id)
        if ours:
            # Our URL is registered but its secret is lost: only a new secret helps.
            rotated = await self.client.rotate_secret(ours[0].id, grace_hours=0)
            if ours[0].status != "enabled":
                await self.client.update_endpoint(rotated.id, url=self.url)
            assert rotated.secret is not None
            return rotated.id, rotated.secret, False
        created = await self.client.create_endpoint(self.url, description=self.description)
        assert created.secret is not None
        return created.id, created.secret, True

    async def ensure(self) -> bool:
        """Registers or checks the endpoint. True when done; False when another replica holds
        the lease (it will finish). Raises `PaymentsUnavailable` while the provider is down."""
        claim = await self._claim()
        if claim is None:
            return False
        try:
            endpoint_id, secret, created = await self._register(claim)
        except BaseException:
            await self._settle(claim, None, None)
            raise
        if not await self._settle(claim, endpoint_id, secret):
            log.warning("webhook registration lease ran out; another replica took it over")
            if created:
                await self.client.delete_endpoint(endpoint_id)
            return False
        self.registered.set()
        log.info("payment webhooks arrive at %s (endpoint %s)", self.url, endpoint_id)
        return True

    async def run_until_registered(self) -> None:
        """The background task of a starting service: retries until the endpoint is checked."""
        attempt = 0
        while True:
            try:
                if await self.ensure():
                    return
                if await self.is_registered():
                    return  # another replica finished it
            except AppError as exc:
                log.warning("webhook registration failed, retrying: %s", exc.detail)
            except Exception:
                log.exception("webhook registration failed, retrying")
            await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
            attempt += 1
