"""Cursor pagination: opaque cursors over a stable sort key (usually the prefixed id)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
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


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise UnprocessableContent(
            "cursor is not a value returned by this API", field="cursor"
        ) from exc


async def keyset_page(
    session: AsyncSession,
    query: SelectOfScalar[M],
    key: Mapped[Any],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[M], str | None]:
    """One page of `query` in ascending `key` order after `cursor`, and the next cursor."""
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(key > after)
    rows = list((await session.exec(query.order_by(key).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    name = key.key  # type: ignore[attr-defined]
    next_cursor = encode_cursor(getattr(rows[-1], name)) if more and rows else None
    return rows, next_cursor
