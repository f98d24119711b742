"""Reference tables: categories and districts (seed data from the city file)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Category(SQLModel, table=True):
    """A mail category a resident can subscribe to (災害情報, 不審者情報...)."""

    __tablename__ = "categories"

    code: str = Field(primary_key=True, max_length=64)
    name_ja: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    department: str = Field(max_length=64)
    position: int = 0


class District(SQLModel, table=True):
    """An area (地区) alerts can target."""

    __tablename__ = "districts"

    code: str = Field(primary_key=True, max_length=64)
    name_ja: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    position: int = 0
