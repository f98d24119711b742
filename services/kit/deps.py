"""Request-scoped dependencies: the unit-of-work session, the clock and the settings.

All are `async def`: FastAPI runs a plain `def` dependency in a worker thread, on every
request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.settings import ServiceSettings

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The only place that commits: before the response is sent, or rolls back on error."""
    async with get_db(request).session(write=request.method not in _READ_METHODS) as session:
        yield session


async def audited_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """For GETs that write: staff reads of personal data record a `*.viewed` audit event, and
    on a busy SQLite a read transaction upgraded to a write is refused, so take the lock first."""
    async with get_db(request).session(write=True) as session:
        yield session


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def app_settings(request: Request) -> ServiceSettings:
    """The app's settings; a service annotates them with its own class:
    `SettingsDep = Annotated[Settings, Depends(app_settings)]`."""
    settings: ServiceSettings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(db_session, scope="function")]
AuditedReadSession = Annotated[AsyncSession, Depends(audited_read_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
