"""keyset_page over a real table (SQLite and PostgreSQL): every row exactly once across the
pages, in key order, ascending or descending, by one column or by a compound key whose first
column repeats (alerts by `sent_at` then id)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column
from sqlmodel import Field, SQLModel, col, select

from services.kit.db import Database
from services.kit.errors import UnprocessableContent
from services.kit.pagination import Key, encode_cursor, keyset_page
from services.kit.sqltypes import UTCDateTime

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


class _Item(SQLModel, table=True):
    __tablename__ = "test_pagination_items"

    id: str = Field(primary_key=True, max_length=16)
    rank: int
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# Three ranks and three moments, each shared by several rows, so ties must be broken by id.
ROWS = [_Item(id=f"it_{n:02d}", rank=n % 3, at=T0 + timedelta(minutes=n % 4)) for n in range(11)]


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(
            lambda sync: SQLModel.metadata.create_all(sync, tables=[_Item.__table__])  # type: ignore[attr-defined]
        )
    async with database.session() as session:
        session.add_all(_Item(id=r.id, rank=r.rank, at=r.at) for r in ROWS)
    try:
        yield database
    finally:
        await database.dispose()


async def _walk(db: Database, key: Key, *, limit: int, descending: bool) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        async with db.session(write=False) as session:
            rows, cursor = await keyset_page(
                session,
                select(_Item),
                key,
                limit=limit,
                cursor=cursor,
                descending=descending,
            )
        pages.append([r.id for r in rows])
        if cursor is None:
            return pages
        assert len(pages) <= len(ROWS), "the pages never end"


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 3, 11, 20])
async def test_one_column_pages_cover_every_row_once(
    db: Database, limit: int, descending: bool
) -> None:
    pages = await _walk(db, col(_Item.id), limit=limit, descending=descending)
    expected = sorted((r.id for r in ROWS), reverse=descending)
    assert [i for page in pages for i in page] == expected
    assert all(len(page) <= limit for page in pages)
    assert len(pages) == max(1, -(-len(ROWS) // limit))


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(
    ("key", "sort_key"),
    [
        ((col(_Item.rank), col(_Item.id)), lambda r: (r.rank, r.id)),
        ((col(_Item.at), col(_Item.id)), lambda r: (r.at, r.id)),
        ((col(_Item.rank), col(_Item.at), col(_Item.id)), lambda r: (r.rank, r.at, r.id)),
    ],
    ids=["int-then-id", "datetime-then-id", "three-columns"],
)
async def test_a_compound_key_breaks_ties_and_loses_nothing(
    db: Database, key: Key, sort_key: Callable[[_Item], Any], descending: bool
) -> None:
    pages = await _walk(db, key, limit=2, descending=descending)
    expected = [r.id for r in sorted(ROWS, key=sort_key, reverse=descending)]
    assert [i for page in pages for i in page] == expected


@pytest.mark.parametrize(
    "forged",
    [
        encode_cursor("it_03"),  # a single value where the key has two parts
        encode_cursor([1]),  # too few parts
        encode_cursor(["1", "it_03"]),  # text where the key wants a number
        encode_cursor(["yesterday", "it_03"]),  # not a timestamp
        encode_cursor(["2026-04-01T00:01:00", "it_03"]),  # a timestamp without an offset
    ],
)
async def test_a_forged_compound_cursor_is_a_422_naming_cursor_for_either_key(
    db: Database, forged: str
) -> None:
    for key in ((col(_Item.rank), col(_Item.id)), (col(_Item.at), col(_Item.id))):
        async with db.session(write=False) as session:
            with pytest.raises(UnprocessableContent) as refused:
                await keyset_page(session, select(_Item), key, limit=5, cursor=forged)
        assert refused.value.extensions["errors"][0]["field"] == "cursor"
