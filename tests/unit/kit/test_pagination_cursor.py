"""Cursors are opaque: a forged one, or one whose value is not of the key's type, is a 422
naming `cursor` instead of reaching the database (PostgreSQL refuses to compare text to int)."""

from __future__ import annotations

import pytest
from sqlmodel import Field, SQLModel

from services.kit.errors import UnprocessableContent
from services.kit.pagination import _python_type, decode_cursor, encode_cursor


class _Row(SQLModel, table=True):
    __tablename__ = "test_pagination_rows"

    id: str = Field(primary_key=True)
    n: int = 0


def test_a_cursor_reads_back_its_value() -> None:
    assert decode_cursor(encode_cursor("sub_01")) == "sub_01"
    assert decode_cursor(encode_cursor(42), int) == 42
    assert decode_cursor(None, str) is None


@pytest.mark.parametrize(
    ("value", "expected"), [(42, str), ("42", int), (True, int), ([1], str), ({"a": 1}, str)]
)
def test_a_cursor_of_another_type_is_refused(value: object, expected: type) -> None:
    with pytest.raises(UnprocessableContent) as refused:
        decode_cursor(encode_cursor(value), expected)
    assert refused.value.extensions["errors"][0]["field"] == "cursor"


def test_the_key_type_comes_from_the_column() -> None:
    assert _python_type(_Row.id) is str  # type: ignore[arg-type]
    assert _python_type(_Row.n) is int  # type: ignore[arg-type]
