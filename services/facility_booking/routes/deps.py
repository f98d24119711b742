"""Path parameters and the optional caller's registration, shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from services.facility_booking.domain.vocabulary import FACILITY_CODE_PATTERN, UNIT_CODE_PATTERN
from services.facility_booking.schemas.facilities import BLOCK_ID_PATTERN
from services.facility_booking.schemas.registrations import REGISTRATION_ID_PATTERN
from services.facility_booking.schemas.reservations import (
    RESERVATION_ID_PATTERN,
    SERIES_ID_PATTERN,
    WAIT_ID_PATTERN,
)

FacilityCode = Annotated[str, Path(pattern=FACILITY_CODE_PATTERN, max_length=64)]
UnitCode = Annotated[str, Path(pattern=UNIT_CODE_PATTERN, max_length=64)]
BlockId = Annotated[str, Path(pattern=BLOCK_ID_PATTERN)]
RegistrationId = Annotated[str, Path(pattern=REGISTRATION_ID_PATTERN)]
ReservationId = Annotated[str, Path(pattern=RESERVATION_ID_PATTERN)]
SeriesId = Annotated[str, Path(pattern=SERIES_ID_PATTERN)]
WaitId = Annotated[str, Path(pattern=WAIT_ID_PATTERN)]
