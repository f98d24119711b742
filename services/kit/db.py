"""Engine and sessions. Built in the app lifespan, never at import time.

SQLite has one write lock per database file. Inside a process, writers queue on an
`asyncio.Lock` in front of it (FIFO, each woken when the previous one commits) and only then
take a connection and `BEGIN IMMEDIATE`; SQLite's own busy handler (which sleeps and polls)
is left for the rare writer in another process (a `cityhall worker`, a migration). So a
burst of concurrent writes queues instead of failing with "database is locked", and holds at
most one pooled connection. Reads run beside the writer (WAL).
PostgreSQL: asyncpg, a pool sized from the settings; writers take row locks as they go.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit import sqlite_driver
from services.kit.sqlite_driver import OneHopConnection

SQLITE_BUSY_TIMEOUT_MS = 30_000  # only another process's writer waits here
SQLITE_BEGIN_OPTION = "cityhall_sqlite_begin"
IMMEDIATE: dict[str, str] = {SQLITE_BEGIN_OPTION: "IMMEDIATE"}  # execution options of a writer


def _install_sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        driver_connection = conn.connection.dbapi_connection
        if isinstance(driver_connection, OneHopConnection):
            driver_connection.defer_begin(f"BEGIN {mode}")
        else:
            conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30}, module=sqlite_driver.dbapi()
        )
        _install_sqlite_pragmas(engine)
        return engine
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


class Database:
    """One engine and session factory per app; `session(write=...)` is a unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._after_commit: list[Callable[[AsyncSession], None]] = []
        self._write_lock: asyncio.Lock | None = None
        self._writing_task: asyncio.Task[object] | None = None

    def on_commit(self, callback: Callable[[AsyncSession], None]) -> None:
        """Run `callback(session)` after every successful commit (e.g. wake the outbox relay)."""
        self._after_commit.append(callback)

    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[None]:
        """Holds this process's SQLite write turn (a no-op on PostgreSQL)."""
        if not self.is_sqlite:
            yield
            return
        task = asyncio.current_task()
        if task is not None and task is self._writing_task:
            raise RuntimeError(
                "a write session was opened inside another one on the same SQLite database;"
                " it would wait for itself"
            )
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        async with self._write_lock:
            self._writing_task = task
            try:
                yield
            finally:
                self._writing_task = None

    @asynccontextmanager
    async def session(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on error. Writes take the SQLite lock up front."""
        if write and self.is_sqlite:
            async with self.writer(), self._sessions() as session:
                await session.connection(execution_options=IMMEDIATE)
                async with self._unit_of_work(session):
                    yield session
        else:
            async with self._sessions() as session, self._unit_of_work(session):
                yield session
        if write:  # a read session commits nothing worth reacting to
            for callback in self._after_commit:
                callback(session)

    @staticmethod
    @asynccontextmanager
    async def _unit_of_work(session: AsyncSession) -> AsyncIterator[None]:
        try:
            yield
            await session.commit()
        except BaseException:
            await session.rollback()
            raise

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.engine.dispose()
