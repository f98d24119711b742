"""Cursor pagination: opaque cursors over a stable sort key (usually the prefixed id)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import TypeDecorator
from sqlalchemy.orm import Mapped
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

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
    raw = json.dumps(after, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, expected: type | tuple[type, ...] | None = None) -> Any:
    """The value a cursor carries; a 422 naming `cursor` when it is not one of ours, or (with
    `expected`) not of the key's type, so a forged cursor never reaches the database."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise UnprocessableContent(
            "cursor is not a value returned by this API", field="cursor"
        ) from exc
    if expected is not None and (not isinstance(value, expected) or isinstance(value, bool)):
        raise UnprocessableContent("cursor is not a value returned by this API", field="cursor")
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


async def keyset_page(
    session: AsyncSession,
    query: SelectOfScalar[M],
    key: Mapped[Any],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[M], str | None]:
    """One page of `query` in ascending `key` order after `cursor`, and the next cursor."""
    after = decode_cursor(cursor, _python_type(key))
    if after is not None:
        query = query.where(key > after)
    rows = list((await session.exec(query.order_by(key).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    name = key.key  # type: ignore[attr-defined]
    next_cursor = encode_cursor(getattr(rows[-1], name)) if more and rows else None
    return rows, next_cursor
