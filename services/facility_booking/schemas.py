"""Request and response models of facility_booking."""

from __future__ import annotations

from pydantic import BaseModel


class RoomRead(BaseModel):
    code: str
    name_ja: str
    kind: str
    capacity: int


class FacilityRead(BaseModel):
    code: str
    name_ja: str
    name_en: str
    kind: str
    district: str
    lat: float
    lon: float
    rooms: list[RoomRead]
