"""Column helpers shared by the alert_mail tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlmodel import Field

from services.kit.sqltypes import JSONType, UTCDateTime


def timestamp(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def json_column(name: str) -> Any:
    return Field(default_factory=dict, sa_column=Column(name, JSONType, nullable=False))
