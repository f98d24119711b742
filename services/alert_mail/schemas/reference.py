"""Reference lists: categories and districts."""

from __future__ import annotations

from pydantic import BaseModel


class CategoryRead(BaseModel):
    code: str
    name_ja: str
    name_en: str
    department: str


class DistrictRead(BaseModel):
    code: str
    name_ja: str
    name_en: str
