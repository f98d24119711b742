"""Tables of facility_booking."""

from __future__ import annotations

from sqlalchemy import Column, Float
from sqlmodel import Field, SQLModel


class Facility(SQLModel, table=True):
    """A building (公民館, 体育館, 文化センター...) with its location for the facility map."""

    __tablename__ = "facilities"

    code: str = Field(primary_key=True, max_length=64)
    name_ja: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    kind: str = Field(max_length=32, index=True)
    district: str = Field(max_length=32, index=True)
    lat: float = Field(sa_column=Column(Float, nullable=False))
    lon: float = Field(sa_column=Column(Float, nullable=False))


class Room(SQLModel, table=True):
    """A bookable unit of a facility (会議室, アリーナ半面, テニスコート...)."""

    __tablename__ = "rooms"

    facility_code: str = Field(
        primary_key=True, max_length=64, foreign_key="facilities.code", ondelete="CASCADE"
    )
    code: str = Field(primary_key=True, max_length=64)
    name_ja: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    capacity: int
