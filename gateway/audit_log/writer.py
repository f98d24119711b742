"""Write transactions on the chain: lock the head, insert linked records, move the head.

The gateway writes a record for every request, so this path talks to the database driver
itself (aiosqlite, asyncpg) rather than through SQLAlchemy, which cost more per record than
everything else together (measured by bench/audit_append.py: compiling and processing the
parameters of each row; on SQLite about fifteen hand-offs to aiosqlite's thread for one
transaction where five do). The rows stored are exactly what the SQLAlchemy tables would store
(`CoreWriter`, used for any other driver, is the reference the tests compare against):

- SQLite: `BEGIN IMMEDIATE` (one writer at a time, as the kit's sessions do), the head row
  read, one `executemany` per chunk, the head updated, `COMMIT`. `recorded_at` is stored as
  SQLAlchemy's SQLite DATETIME stores it (`services.kit.sqltypes.UTCDateTime`): naive UTC
  text, `YYYY-MM-DD HH:MM:SS.ffffff`.
- PostgreSQL: `SELECT ... FOR UPDATE` on the head row, one `INSERT ... SELECT FROM unnest()`
  per chunk (one statement for the whole chunk, arrays encoded by asyncpg), the head updated.
  `recorded_at` is a `timestamptz`, given as the aware datetime.

Both keep their connection checked out between transactions (see `_DriverWriter`). A
transaction that fails is rolled back; when even that fails, the connection is discarded
rather than returned to the pool in an unknown state.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from gateway.audit_chain.canonical import fixed_width_utc
from gateway.audit_chain.chain import GENESIS
from gateway.audit_chain.checkpoint import Checkpoint
from gateway.audit_log.events import ChainEntry
from gateway.audit_log.tables import AuditChainHead, AuditCheckpointRecord, AuditEventRecord
from services.kit.db import IMMEDIATE, Database

CHECKPOINT_COLUMNS = ("kid", "head_seq", "head_hash", "issued_at", "prev_signature", "signature")
HEAD_COLUMNS = ("seq", "hash", "checkpoint_seq", "checkpoint_signature", "checkpoint_issued_at")
SEEN_CHUNK = 500
"""Event ids looked up per query when deduplicating."""


@dataclass(slots=True)
class Head:
    """The chain-head row: the last link, and the last checkpoint made over it."""

    seq: int
    hash: str
    checkpoint_seq: int
    checkpoint_signature: str | None
    checkpoint_issued_at: str | None


def empty_head() -> Head:
    return Head(seq=0, hash=GENESIS, checkpoint_seq=0, checkpoint_signature=None,
                checkpoint_issued_at=None)  # fmt: skip


class ChainTransaction(abc.ABC):
    """One write transaction. `lock_head` comes first: it takes the chain-head lock."""

    @abc.abstractmethod
    async def lock_head(self) -> Head:
        """The head row, locked until the end of the transaction (created when missing)."""

    @abc.abstractmethod
    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these event ids are in the log already."""

    @abc.abstractmethod
    async def insert(
        self, first_seq: int, entries: Sequence[ChainEntry], prev_hash: str, hashes: list[str]
    ) -> None:
        """Store `entries` as seq `first_seq`, `first_seq + 1`, ...; `hashes[i]` is the hash
        of entry i, whose predecessor's hash is `prev_hash` for the first."""

    @abc.abstractmethod
    async def save_head(self, head: Head, checkpoint: Checkpoint | None) -> None:
        """Move the head (and store the checkpoint just made over it, if any)."""


class ChainWriter(abc.ABC):
    def __init__(self, db: Database) -> None:
        self.db = db

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[ChainTransaction]:
        """A write transaction: committed when the block ends, rolled back if it raises."""

    async def close(self) -> None:  # noqa: B027 - most writers hold nothing between uses
        """Give back what the writer holds (it can still be used afterwards)."""


class _DriverWriter(ChainWriter):
    """Transactions on the driver's connection, which is kept checked out between them: a
    checkout cost SQLAlchemy's pool bookkeeping and a reset rollback, on PostgreSQL also the
    pre-ping's three round trips, more than a small transaction itself. A connection whose
    rollback fails is discarded; with `retry_stale_begin`, a held connection that fails at
    BEGIN (the server restarted meanwhile, say) is replaced once before giving up."""

    retry_stale_begin = False

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._lock = asyncio.Lock()
        self._conn: AsyncConnection | None = None
        self._driver: Any = None

    @abc.abstractmethod
    async def _begin(self, driver: Any) -> Any:
        """Start a transaction on `driver`; returns what `_commit`/`_rollback` need."""

    @abc.abstractmethod
    async def _commit(self, driver: Any, started: Any) -> None: ...

    @abc.abstractmethod
    async def _rollback(self, driver: Any, started: Any) -> None: ...

    @abc.abstractmethod
    def _transaction(self, driver: Any) -> ChainTransaction: ...

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ChainTransaction]:
        async with self._lock:
            driver, started = await self._begin_held()
            try:
                yield self._transaction(driver)
                await self._commit(driver, started)
            except BaseException:
                try:
                    await self._rollback(driver, started)
                except BaseException:
                    await self._discard()
                raise

    async def _begin_held(self) -> tuple[Any, Any]:
        retry = self.retry_stale_begin and self._conn is not None
        while True:
            if self._conn is None:
                conn = await self.db.engine.connect()
                try:
                    self._driver = await _driver_connection(conn)
                except BaseException:
                    await conn.close()
                    raise
                self._conn = conn
            try:
                return self._driver, await self._begin(self._driver)
            except BaseException as exc:
                await self._discard()  # it may be inside a BEGIN that was interrupted
                if not retry or not isinstance(exc, Exception):
                    raise
                retry = False

    async def _discard(self) -> None:
        """The pool must not hand this connection out again, perhaps inside a transaction."""
        conn, self._conn, self._driver = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):  # the caller's own error is the one to raise
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn, self._driver = self._conn, None, None
            if conn is not None:
                await conn.close()


def writer_for(db: Database) -> ChainWriter:
    """The driver's own path where there is one, else the SQLAlchemy Core path."""
    driver = db.engine.dialect.driver
    if driver == "aiosqlite":
        return SqliteWriter(db)
    if driver == "asyncpg":
        return PostgresWriter(db)
    return CoreWriter(db)


def sqlite_datetime(moment: datetime) -> str:
    """What `UTCDateTime` stores on SQLite (naive UTC through SQLAlchemy's DATETIME)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every timestamp must carry a UTC offset")
    return fixed_width_utc(moment.astimezone(UTC), " ")


def _head(row: Sequence[Any]) -> Head:
    return Head(int(row[0]), row[1], int(row[2]), row[3], row[4])


def _checkpoint_values(checkpoint: Checkpoint) -> tuple[Any, ...]:
    return (
        checkpoint.kid,
        checkpoint.head_seq,
        checkpoint.head_hash,
        checkpoint.issued_at,
        checkpoint.prev_signature,
        checkpoint.signature,
    )


def _head_values(head: Head) -> tuple[Any, ...]:
    return (
        head.seq,
        head.hash,
        head.checkpoint_seq,
        head.checkpoint_signature,
        head.checkpoint_issued_at,
    )


async def _driver_connection(conn: AsyncConnection) -> Any:
    """The driver's own connection (aiosqlite's, asyncpg's) under SQLAlchemy's."""
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None:
        raise RuntimeError("the database connection is closed")
    return driver


# --- SQLite (aiosqlite) -----------------------------------------------------------------------

_SQLITE_SELECT_HEAD = (
    "SELECT seq, hash, checkpoint_seq, checkpoint_signature, checkpoint_issued_at"
    " FROM gateway_audit_head WHERE id = 1"
)
_SQLITE_INSERT_HEAD = (
    "INSERT INTO gateway_audit_head (id, seq, hash, checkpoint_seq, checkpoint_signature,"
    " checkpoint_issued_at) VALUES (1, ?, ?, ?, ?, ?)"
)
_SQLITE_INSERT = (
    "INSERT INTO gateway_audit_log (seq, event_id, kind, recorded_at, actor, action, target,"
    " service, event, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_UPDATE_HEAD = (
    "UPDATE gateway_audit_head SET seq = ?, hash = ?, checkpoint_seq = ?,"
    " checkpoint_signature = ?, checkpoint_issued_at = ? WHERE id = 1"
)
_SQLITE_INSERT_CHECKPOINT = (
    "INSERT INTO gateway_audit_checkpoints (kid, head_seq, head_hash, issued_at,"
    " prev_signature, signature) VALUES (?, ?, ?, ?, ?, ?)"
)


class _SqliteTransaction(ChainTransaction):
    def __init__(self, conn: Any) -> None:
        self.conn = conn  # aiosqlite.Connection

    async def lock_head(self) -> Head:  # BEGIN IMMEDIATE already holds the write lock
        rows = list(await self.conn.execute_fetchall(_SQLITE_SELECT_HEAD))
        if rows:
            return _head(rows[0])
        head = empty_head()
        await self.conn.execute(_SQLITE_INSERT_HEAD, _head_values(head))
        return head

    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(event_ids), SEEN_CHUNK):
            chunk = list(event_ids[start : start + SEEN_CHUNK])
            rows = await self.conn.execute_fetchall(
                "SELECT event_id FROM gateway_audit_log WHERE event_id IN"  # noqa: S608
                f" ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update(row[0] for row in rows)
        return found

    async def insert(
        self, first_seq: int, entries: Sequence[ChainEntry], prev_hash: str, hashes: list[str]
    ) -> None:
        prevs = [prev_hash, *hashes[:-1]]
        rows = [
            (
                first_seq + i,
                e.event_id,
                e.kind,
                sqlite_datetime(e.recorded_at),
                e.actor,
                e.action,
                e.target,
                e.service,
                e.canonical,
                prevs[i],
                hashes[i],
            )
            for i, e in enumerate(entries)
        ]
        await self.conn.executemany(_SQLITE_INSERT, rows)

    async def save_head(self, head: Head, checkpoint: Checkpoint | None) -> None:
        if checkpoint is not None:
            await self.conn.execute(_SQLITE_INSERT_CHECKPOINT, _checkpoint_values(checkpoint))
        await self.conn.execute(_SQLITE_UPDATE_HEAD, _head_values(head))


class SqliteWriter(_DriverWriter):
    async def _begin(self, driver: Any) -> None:
        await driver.execute("BEGIN IMMEDIATE")

    async def _commit(self, driver: Any, started: None) -> None:
        await driver.execute("COMMIT")

    async def _rollback(self, driver: Any, started: None) -> None:
        await driver.rollback()  # a no-op outside a transaction

    def _transaction(self, driver: Any) -> ChainTransaction:
        return _SqliteTransaction(driver)


# --- PostgreSQL (asyncpg) ---------------------------------------------------------------------

_PG_SELECT_HEAD = (
    "SELECT seq, hash, checkpoint_seq, checkpoint_signature, checkpoint_issued_at"
    " FROM gateway_audit_head WHERE id = 1 FOR UPDATE"
)
_PG_INSERT_HEAD = (
    "INSERT INTO gateway_audit_head (id, seq, hash, checkpoint_seq, checkpoint_signature,"
    " checkpoint_issued_at) VALUES (1, $1, $2, $3, $4, $5)"
)
_PG_INSERT = (
    "INSERT INTO gateway_audit_log (seq, event_id, kind, recorded_at, actor, action, target,"
    " service, event, prev_hash, hash) SELECT * FROM unnest($1::bigint[], $2::varchar[],"
    " $3::varchar[], $4::timestamptz[], $5::varchar[], $6::varchar[], $7::varchar[],"
    " $8::varchar[], $9::text[], $10::varchar[], $11::varchar[])"
)
_PG_UPDATE_HEAD = (
    "UPDATE gateway_audit_head SET seq = $1, hash = $2, checkpoint_seq = $3,"
    " checkpoint_signature = $4, checkpoint_issued_at = $5 WHERE id = 1"
)
_PG_INSERT_CHECKPOINT = (
    "INSERT INTO gateway_audit_checkpoints (kid, head_seq, head_hash, issued_at,"
    " prev_signature, signature) VALUES ($1, $2, $3, $4, $5, $6)"
)


class _PostgresTransaction(ChainTransaction):
    def __init__(self, conn: Any) -> None:
        self.conn = conn  # asyncpg.Connection

    async def lock_head(self) -> Head:
        row = await self.conn.fetchrow(_PG_SELECT_HEAD)
        if row is not None:
            return _head(row)
        head = empty_head()
        await self.conn.execute(_PG_INSERT_HEAD, *_head_values(head))
        return head

    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(event_ids), SEEN_CHUNK):
            rows = await self.conn.fetch(
                "SELECT event_id FROM gateway_audit_log WHERE event_id = ANY($1::varchar[])",
                list(event_ids[start : start + SEEN_CHUNK]),
            )
            found.update(row[0] for row in rows)
        return found

    async def insert(
        self, first_seq: int, entries: Sequence[ChainEntry], prev_hash: str, hashes: list[str]
    ) -> None:
        event_ids, kinds, recorded_at, actors, actions, targets, services, events = zip(
            *entries, strict=True
        )
        await self.conn.execute(
            _PG_INSERT,
            range(first_seq, first_seq + len(entries)),
            event_ids,
            kinds,
            recorded_at,
            actors,
            actions,
            targets,
            services,
            events,
            [prev_hash, *hashes[:-1]],
            hashes,
        )

    async def save_head(self, head: Head, checkpoint: Checkpoint | None) -> None:
        if checkpoint is not None:
            await self.conn.execute(_PG_INSERT_CHECKPOINT, *_checkpoint_values(checkpoint))
        await self.conn.execute(_PG_UPDATE_HEAD, *_head_values(head))


class PostgresWriter(_DriverWriter):
    retry_stale_begin = True

    async def _begin(self, driver: Any) -> Any:
        transaction = driver.transaction()
        await transaction.start()
        return transaction

    async def _commit(self, driver: Any, started: Any) -> None:
        await started.commit()

    async def _rollback(self, driver: Any, started: Any) -> None:
        await started.rollback()

    def _transaction(self, driver: Any) -> ChainTransaction:
        return _PostgresTransaction(driver)


# --- any other driver: SQLAlchemy Core ---------------------------------------------------------

_LOG = SQLModel.metadata.tables[AuditEventRecord.__tablename__]
_HEAD = SQLModel.metadata.tables[AuditChainHead.__tablename__]
_CHECKPOINTS = SQLModel.metadata.tables[AuditCheckpointRecord.__tablename__]


class _CoreTransaction(ChainTransaction):
    def __init__(self, conn: AsyncConnection, *, for_update: bool) -> None:
        self.conn = conn
        self.for_update = for_update

    async def lock_head(self) -> Head:
        statement = select(*(_HEAD.c[column] for column in HEAD_COLUMNS)).where(_HEAD.c.id == 1)
        if self.for_update:
            statement = statement.with_for_update()
        row = (await self.conn.execute(statement)).one_or_none()
        if row is not None:
            return _head(row)
        head = empty_head()
        await self.conn.execute(insert(_HEAD).values(id=1, **_head_dict(head)))
        return head

    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(event_ids), SEEN_CHUNK):
            chunk = list(event_ids[start : start + SEEN_CHUNK])
            rows = await self.conn.execute(
                select(_LOG.c.event_id).where(_LOG.c.event_id.in_(chunk))
            )
            found.update(rows.scalars())
        return found

    async def insert(
        self, first_seq: int, entries: Sequence[ChainEntry], prev_hash: str, hashes: list[str]
    ) -> None:
        prevs = [prev_hash, *hashes[:-1]]
        rows = [
            {
                "seq": first_seq + i,
                "event_id": e.event_id,
                "kind": e.kind,
                "recorded_at": e.recorded_at,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "service": e.service,
                "event": e.canonical,
                "prev_hash": prevs[i],
                "hash": hashes[i],
            }
            for i, e in enumerate(entries)
        ]
        await self.conn.execute(insert(_LOG), rows)

    async def save_head(self, head: Head, checkpoint: Checkpoint | None) -> None:
        if checkpoint is not None:
            values = dict(zip(CHECKPOINT_COLUMNS, _checkpoint_values(checkpoint), strict=True))
            await self.conn.execute(insert(_CHECKPOINTS).values(**values))
        await self.conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(**_head_dict(head)))


def _head_dict(head: Head) -> dict[str, Any]:
    return dict(zip(HEAD_COLUMNS, _head_values(head), strict=True))


class CoreWriter(ChainWriter):
    """Through SQLAlchemy Core: any dialect; the reference for the drivers' own paths."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ChainTransaction]:
        async with self.db.engine.connect() as conn:
            if self.db.is_sqlite:
                conn = await conn.execution_options(**IMMEDIATE)
            async with conn.begin():
                yield _CoreTransaction(conn, for_update=not self.db.is_sqlite)
