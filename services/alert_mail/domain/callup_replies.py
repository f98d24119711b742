"""What a member may answer to a call-up: safe / injured / cannot come, and for those who can
come, in how many minutes (at most a day: later than that is not a call-up answer)."""

from __future__ import annotations

from enum import StrEnum

from services.kit.errors import UnprocessableContent

MAX_ARRIVAL_MINUTES = 1440
MAX_COMMENT_CHARS = 1000


class ReplyStatus(StrEnum):
    SAFE = "safe"
    INJURED = "injured"
    CANNOT_COME = "cannot_come"


STATUS_LABELS_JA: dict[ReplyStatus, str] = {
    ReplyStatus.SAFE: "無事です",
    ReplyStatus.INJURED: "けがをしています",
    ReplyStatus.CANNOT_COME: "参集できません",
}


def check_reply(status: ReplyStatus, arrival_minutes: int | None) -> None:
    """Someone who cannot come has no arrival time; a mismatch is refused, not guessed at."""
    if status is ReplyStatus.CANNOT_COME and arrival_minutes is not None:
        raise UnprocessableContent(
            "arrival_minutes must be empty when the status is cannot_come",
            field="arrival_minutes",
        )
