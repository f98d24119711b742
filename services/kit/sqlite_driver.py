"""SQLAlchemy's aiosqlite adapter, with one thread hop per statement instead of four.

aiosqlite runs each SQLite connection in a thread of its own, and SQLAlchemy's adapter sends
every DB-API call there separately: create a cursor, execute, fetch the rows, close, and a
`BEGIN`, a `COMMIT` and the pool's reset `ROLLBACK` around them. Each hop is a queue put and
a thread wake-up (measured at 0.2–0.3 ms on a quiet 2-core VM), so one authenticated create
spent most of its 15 ms waiting for about fifty of them.

Here a statement is one function run in the connection's thread (cursor, execute, fetch,
close, and the deferred `BEGIN` of its transaction), and `COMMIT` / `ROLLBACK` are skipped
when no transaction is open, which the thread reports after every statement. A read
transaction's `COMMIT` is queued without waiting for it. Everything else
(the dialect, error translation, termination) is SQLAlchemy's own. Pass `module=dbapi()` to
`create_async_engine`.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from threading import Thread
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, int, int | None, list[Any] | None, bool]
_BEGIN_READ = "BEGIN DEFERRED"


def _is_select(operation: str) -> bool:
    return operation.lstrip()[:6].upper() == "SELECT"


def _run_in_thread(
    connection: aiosqlite.Connection,
    begin: str | None,
    operation: str,
    parameters: Any,
    many: bool,
) -> _Outcome:
    conn: sqlite3.Connection = connection._conn
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, cursor.rowcount, cursor.lastrowid, rows, conn.in_transaction
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_lastrowid", "_rowcount")

    _adapt_connection: OneHopConnection

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # no aiosqlite cursor: one hop per statement
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapter = self._adapt_connection
        async with adapter._execute_mutex:
            begin, adapter._begin = adapter._begin, None
            try:
                outcome = await self._connection._execute(
                    _run_in_thread, self._connection, begin, operation, parameters, many
                )
            except BaseException:
                adapter._in_transaction = True  # unknown: let COMMIT / ROLLBACK go through
                raise
        self._description, self._rowcount, self._lastrowid, rows, adapter._in_transaction = outcome
        if begin is not None:
            adapter._reads_only = begin == _BEGIN_READ
        if adapter._reads_only and not _is_select(operation):
            adapter._reads_only = False
        self._rows = collections.deque(rows) if rows else collections.deque()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin", "_in_transaction", "_reads_only")

    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None
        self._in_transaction = False
        self._reads_only = False  # the open transaction is a deferred one that only SELECTed

    def defer_begin(self, statement: str) -> None:
        """`BEGIN …` runs in the same hop as the transaction's first statement."""
        self._begin = statement

    def commit(self) -> None:
        self._begin = None
        if not self._in_transaction:
            return
        self._in_transaction = False
        if self._reads_only:
            # Ending a read snapshot cannot fail in a way its reader could act on: the COMMIT
            # is queued on the connection's thread, ahead of whatever its next user sends, and
            # not waited for, so a read session costs one thread round trip instead of two.
            self._reads_only = False
            self._connection._tx.put_nowait((None, self._connection._conn.commit))
            return
        super().commit()

    def rollback(self) -> None:
        self._begin = None
        self._reads_only = False
        if self._in_transaction:
            super().rollback()
            self._in_transaction = False


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        creator_fn = kw.pop("async_creator_fn", None)
        if creator_fn:
            connection = creator_fn(*arg, **kw)
        else:
            connection = self.aiosqlite.connect(*arg, **kw)
            if isinstance(connection, Thread):
                connection.daemon = True
            else:
                connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))


def dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)
