"""Migrations and demo data for every app's database, without starting any server.

`seed` upserts each service's demo data from the demo city file. `cityhall up` seeds only on
first start: `<var_dir>/seed-state.json` remembers which database got which seed file
(by SHA-256), so data changed through the API is not overwritten on every start, while a
new database or a changed seed file is seeded again. `cityhall seed` always seeds.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import importlib.util
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlmodel.ext.asyncio.session import AsyncSession

from deploy import demo_identities
from deploy.stack import SEED_STATE_FILE, Stack
from gateway.settings import GatewaySettings
from services.kit.db import Database
from services.kit.migrate import upgrade

Seeder = Callable[[AsyncSession, Mapping[str, Any]], Awaitable[int]]


def migrations_of(package: str) -> Path:
    """`<package>/migrations`, found without importing the app (routes take long to import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise LookupError(f"package {package} is not installed")
    return Path(spec.origin).parent / "migrations"


def seeder_of(service: str) -> Seeder:
    seeder: Seeder = importlib.import_module(f"services.{service}.seed").seed
    return seeder


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    service: str
    count: int | None  # None: skipped, already seeded with this file


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def migrate_service(name: str, database_url: str) -> None:
    db = Database(database_url, pool_size=2)
    try:
        await upgrade(db.engine, migrations_of(f"services.{name}"))
    finally:
        await db.dispose()


async def migrate_gateway(database_url: str) -> None:
    db = Database(database_url, pool_size=2)
    try:
        await upgrade(db.engine, migrations_of("gateway"), include_kit=False)
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


async def seed_service(name: str, database_url: str, city: Mapping[str, Any]) -> int:
    """One service's database migrated to head and upserted with the demo city's data."""
    db = Database(database_url, pool_size=2)
    try:
        await upgrade(db.engine, migrations_of(f"services.{name}"))
        async with db.session() as session:
            return await seeder_of(name)(session, city)
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


async def seed_identities(settings: GatewaySettings) -> int:
    """The demo identities in the gateway's IdP (migrating first): accounts with their known
    passwords and TOTP secrets, and the JPKI card file. Refused outside simulation mode."""
    from gateway.idp import provisioning
    from gateway.idp.service import IdentityProvider
    from gateway.routing import RouteTable
    from gateway.runtime import GatewayRuntime
    from services.kit.metrics import Metrics

    provisioning.require_demo_mode(settings)
    await migrate_gateway(settings.database_url)
    runtime = GatewayRuntime(
        settings=settings, routes=RouteTable(settings.routes), metrics=Metrics("gateway-seed")
    )
    idp = IdentityProvider(settings, runtime)
    db = Database(settings.database_url, pool_size=2)
    try:
        await idp.start(db)
        for item in demo_identities.IDENTITIES:
            await provisioning.upsert_account(idp, item.account)
            card = demo_identities.card_path(settings, item.account)
            if card is not None:
                await provisioning.ensure_card(idp, item.account, card)
    finally:
        await idp.stop()
        await db.dispose()
    return len(demo_identities.IDENTITIES)


def _cards_exist(settings: GatewaySettings) -> bool:
    paths = (demo_identities.card_path(settings, i.account) for i in demo_identities.IDENTITIES)
    return all(path.exists() for path in paths if path is not None)


def _identities_digest() -> str:
    return hashlib.sha256(repr(demo_identities.IDENTITIES).encode()).hexdigest()


async def seed_all(stack: Stack, *, only_first_time: bool = False) -> list[SeedOutcome]:
    """Demo data for every service (migrating first), and the demo identities in simulation
    mode. Idempotent: rows are upserted by code."""
    city, digest = await asyncio.to_thread(_read_seed, stack.launcher.seed_file)
    state_path = stack.var_dir / SEED_STATE_FILE
    state = await asyncio.to_thread(_read_state, state_path)
    identities: list[SeedOutcome] = []
    if stack.gateway.demo_identities:
        key = f"gateway identities {_safe_url(stack.gateway.database_url)}"
        ids_digest = _identities_digest()
        cards = [
            demo_identities.card_path(stack.gateway, i.account) for i in demo_identities.IDENTITIES
        ]
        cards_there = all(await asyncio.to_thread(lambda: [c.exists() for c in cards if c]))
        if only_first_time and state.get(key) == ids_digest and cards_there:
            identities.append(SeedOutcome("identities", None))
        else:
            identities.append(SeedOutcome("identities", await seed_identities(stack.gateway)))
            state[key] = ids_digest
    keys = {n: f"{n} {_safe_url(s.database_url)}" for n, s in stack.services.items()}
    todo = {
        n: s
        for n, s in stack.services.items()
        if not (only_first_time and state.get(keys[n]) == digest)
    }
    done = {
        n: await seed_service(n, s.database_url, city) for n, s in todo.items()
    }  # see migrate_all
    for name in done:
        state[keys[name]] = digest
    outcomes = [*identities, *(SeedOutcome(name, done.get(name)) for name in stack.services)]
    await asyncio.to_thread(_write_state, state_path, state)
    return outcomes
