"""The only source of time. In simulation mode a clock carries an offset that tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class Clock:
    """Wall-clock time plus a simulation offset (0 outside simulation)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        """Aware UTC datetime, shifted by the simulation offset."""
        return datetime.now(UTC) + self._offset

    def now_jst(self) -> datetime:
        return self.now().astimezone(JST)

    def advance(self, delta: timedelta) -> None:
        """Move simulated time forward; time never runs backwards."""
        if delta < timedelta(0):
            raise ValueError("a clock only moves forward")
        self._offset += delta

    def follow(self, offset: timedelta) -> bool:
        """Take a larger offset another process set (kit.shared_clock); True if it moved."""
        if offset <= self._offset:
            return False
        self._offset = offset
        return True

    def travel_to(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("moment must carry a UTC offset")
        target = moment - datetime.now(UTC)
        if target < self._offset:
            raise ValueError("a clock only moves forward")
        self._offset = target
