"""Tables of e_application."""

from __future__ import annotations

from sqlalchemy import Column
from sqlmodel import Field, SQLModel


class Procedure(SQLModel, table=True):
    """A procedure of the catalogue (手続き), seeded from the city's data file."""

    __tablename__ = "procedures"

    code: str = Field(primary_key=True, max_length=64)
    name_ja: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    department: str = Field(max_length=64, index=True)
    category_ja: str = Field(max_length=64)
    assurance: str = Field(max_length=16)  # anonymous | email | password | jpki
    fee_yen: int | None = None
    standard_processing_days: int | None = None
    active: bool = Field(default=True, sa_column=Column("active", nullable=False))
