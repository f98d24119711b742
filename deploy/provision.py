"""Migrations and demo data for every app's database, without starting any server.

`seed` upserts each service's demo data from the demo city file. `cityhall up` seeds only on
first start: `<var_dir>/seed-state.json` remembers which database got which seed file
(by SHA-256), so data changed through the API is not overwritten on every start, while a
new database or a changed seed file is seeded again. `cityhall seed` always seeds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlmodel.ext.asyncio.session import AsyncSession

from deploy.stack import SEED_STATE_FILE, Stack
from gateway.app import MIGRATIONS as GATEWAY_MIGRATIONS
from services.alert_mail.app import MIGRATIONS as ALERT_MAIL_MIGRATIONS
from services.alert_mail.seed import seed as seed_alert_mail
from services.e_application.app import MIGRATIONS as E_APPLICATION_MIGRATIONS
from services.e_application.seed import seed as seed_e_application
from services.facility_booking.app import MIGRATIONS as FACILITY_BOOKING_MIGRATIONS
from services.facility_booking.seed import seed as seed_facility_booking
from services.kit.db import Database
from services.kit.migrate import upgrade
from services.payments_mock.app import MIGRATIONS as PAYMENTS_MOCK_MIGRATIONS
from services.payments_mock.seed import seed as seed_payments_mock

Seeder = Callable[[AsyncSession, Mapping[str, Any]], Awaitable[int]]

MIGRATIONS: dict[str, Path] = {
    "e_application": E_APPLICATION_MIGRATIONS,
    "facility_booking": FACILITY_BOOKING_MIGRATIONS,
    "alert_mail": ALERT_MAIL_MIGRATIONS,
    "payments_mock": PAYMENTS_MOCK_MIGRATIONS,
}
SEEDERS: dict[str, Seeder] = {
    "e_application": seed_e_application,
    "facility_booking": seed_facility_booking,
    "alert_mail": seed_alert_mail,
    "payments_mock": seed_payments_mock,
}


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    service: str
    count: int | None  # None: skipped, already seeded with this file


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def migrate_service(name: str, database_url: str) -> None:
    db = Database(database_url, pool_size=2)
    try:
        await upgrade(db.engine, MIGRATIONS[name])
    finally:
        await db.dispose()


async def migrate_gateway(database_url: str) -> None:
    db = Database(database_url, pool_size=2)
    try:
        await upgrade(db.engine, GATEWAY_MIGRATIONS, include_kit=False)
    finally:
        await db.dispose()


async def migrate_all(stack: Stack) -> list[str]:
    """Every service's and the gateway's database brought to head; returns what was done.

    One after the other: Alembic keeps the running migration in module-level proxies
    (`alembic.context`, `alembic.op`), so two upgrades interleaved on one event loop would
    run each other's steps.
    """
    await migrate_gateway(stack.gateway.database_url)
    for name, settings in stack.services.items():
        await migrate_service(name, settings.database_url)
    return ["gateway", *stack.services]


async def _seed_one(name: str, database_url: str, city: Mapping[str, Any]) -> int:
    db = Database(database_url, pool_size=2)
    try:
        await upgrade(db.engine, MIGRATIONS[name])
        async with db.session() as session:
            return await SEEDERS[name](session, city)
    finally:
        await db.dispose()


def _read_seed(path: Path) -> tuple[dict[str, Any], str]:
    raw = path.read_bytes()
    return json.loads(raw), hashlib.sha256(raw).hexdigest()


def _read_state(path: Path) -> dict[str, str]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in state.items()} if isinstance(state, dict) else {}


def _write_state(path: Path, state: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(state), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


async def seed_all(stack: Stack, *, only_first_time: bool = False) -> list[SeedOutcome]:
    """Demo data for every service (migrating first). Idempotent: rows are upserted by code."""
    city, digest = await asyncio.to_thread(_read_seed, stack.launcher.seed_file)
    state_path = stack.var_dir / SEED_STATE_FILE
    state = await asyncio.to_thread(_read_state, state_path)
    keys = {n: f"{n} {_safe_url(s.database_url)}" for n, s in stack.services.items()}
    todo = {
        n: s
        for n, s in stack.services.items()
        if not (only_first_time and state.get(keys[n]) == digest)
    }
    done = {n: await _seed_one(n, s.database_url, city) for n, s in todo.items()}  # see migrate_all
    for name in done:
        state[keys[name]] = digest
    outcomes = [SeedOutcome(name, done.get(name)) for name in stack.services]
    await asyncio.to_thread(_write_state, state_path, state)
    return outcomes
