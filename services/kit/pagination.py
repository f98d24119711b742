"""Cursor pagination: opaque cursors over a stable sort key (usually the prefixed id)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, TypeDecorator, and_, or_
from sqlalchemy.orm import Mapped
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select, SelectOfScalar

from services.kit.errors import UnprocessableContent

MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size, at most 100")]
Cursor = Annotated[
    str | None, Query(max_length=512, pattern=r"^[A-Za-z0-9_=-]*$", description="from next_cursor")
]


T = TypeVar("T")
M = TypeVar("M")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(after: Any) -> str:
    raw = json.dumps(_to_json(after), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _refused() -> UnprocessableContent:
    return UnprocessableContent("cursor is not a value returned by this API", field="cursor")


def decode_cursor(cursor: str | None, expected: type | tuple[type, ...] | None = None) -> Any:
    """The value a cursor carries; a 422 naming `cursor` when it is not one of ours, or (with
    `expected`) not of the key's type, so a forged cursor never reaches the database."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _refused() from exc
    return _checked(value, expected)


def _checked(value: Any, expected: type | tuple[type, ...] | None) -> Any:
    if expected is datetime:
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise _refused()
        return moment
    if expected is not None and (not isinstance(value, expected) or isinstance(value, bool)):
        raise _refused()
    return value


def _python_type(key: Mapped[Any]) -> type | None:
    """The Python type of the key's column (through decorators such as SQLModel's AutoString),
    or None when the column type does not say."""
    column_type = getattr(key, "type", None)
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    try:
        python_type: type = column_type.python_type  # type: ignore[union-attr]
    except (AttributeError, NotImplementedError):
        return None
    return None if python_type is object else python_type


Key = Mapped[Any] | Sequence[Mapped[Any]]


def _columns(key: Key) -> tuple[Mapped[Any], ...]:
    return tuple(key) if isinstance(key, Sequence) else (key,)


def cursor_position(cursor: str | None, key: Key) -> Any:
    """Where the page after `cursor` starts: the key's value (a tuple for a compound key),
    each part checked against its column's type; None for the first page."""
    columns = _columns(key)
    if len(columns) == 1:
        return decode_cursor(cursor, _python_type(columns[0]))
    values = decode_cursor(cursor, list)
    if values is None:
        return None
    if len(values) != len(columns):
        raise _refused()
    return tuple(_checked(v, _python_type(c)) for v, c in zip(values, columns, strict=True))


def after_position(key: Key, position: Any, *, descending: bool = False) -> ColumnElement[bool]:
    """The rows strictly after `position` in key order (row-value comparison spelled out, so
    each value is bound with its own column's type)."""
    columns = _columns(key)
    values = position if len(columns) > 1 else (position,)
    beyond: list[ColumnElement[bool]] = [
        (c < v) if descending else (c > v) for c, v in zip(columns, values, strict=True)
    ]
    condition = beyond[-1]
    for index in range(len(columns) - 2, -1, -1):
        condition = or_(beyond[index], and_(columns[index] == values[index], condition))
    return condition


def order_by(key: Key, *, descending: bool = False) -> list[Any]:
    return [c.desc() if descending else c for c in _columns(key)]


def fetch_size(limit: int) -> int:
    """How many rows to read for a page of `limit`: one more tells whether another follows."""
    return limit + 1


def page_of(
    rows: Sequence[M], limit: int, position_of: Callable[[M], Any]
) -> tuple[list[M], str | None]:
    """The page (at most `limit` of `rows`, read with `fetch_size`) and the next cursor."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return items, encode_cursor(position_of(items[-1])) if more and items else None


def _attributes(key: Key) -> Callable[[Any], Any]:
    names = [c.key for c in _columns(key)]  # type: ignore[attr-defined]
    if len(names) == 1:
        return lambda row: getattr(row, names[0])
    return lambda row: tuple(getattr(row, name) for name in names)


async def keyset_page(
    session: AsyncSession,
    query: SelectOfScalar[M],
    key: Key,
    *,
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> tuple[list[M], str | None]:
    """One page of `query` in `key` order (ascending unless `descending`; a compound key is a
    sequence of columns, the last one unique) after `cursor`, and the next cursor."""
    query = _paged(query, key, cursor, limit, descending)
    rows = list((await session.exec(query)).all())
    return page_of(rows, limit, _attributes(key))


async def keyset_rows(
    session: AsyncSession,
    query: Select[*tuple[Any, ...]],
    key: Key,
    *,
    limit: int,
    cursor: str | None,
    position_of: Callable[[Any], Any],
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """`keyset_page` for a query of several entities or columns (a join): `position_of` reads
    the key's value from a row."""
    query = _paged(query, key, cursor, limit, descending)
    rows: list[Any] = list((await session.exec(query)).all())
    return page_of(rows, limit, position_of)


Q = TypeVar("Q", SelectOfScalar[Any], Select[*tuple[Any, ...]])


def _paged(query: Q, key: Key, cursor: str | None, limit: int, descending: bool) -> Q:
    position = cursor_position(cursor, key)
    if position is not None:
        query = query.where(after_position(key, position, descending=descending))
    return query.order_by(*order_by(key, descending=descending)).limit(fetch_size(limit))
