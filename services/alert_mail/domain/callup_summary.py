"""The summary staff read during a call-up: who is safe, who has not answered, how many can
come and when. Built from each recipient's latest reply only (earlier ones are history)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.alert_mail.domain.callup_replies import ReplyStatus
from services.kit.clock import JST

# Upper bounds in minutes; the last bucket is everything later.
ARRIVAL_BUCKETS: tuple[int, ...] = (30, 60, 120)


@dataclass(frozen=True, slots=True)
class Person:
    recipient_id: str
    name: str


@dataclass(frozen=True, slots=True)
class LatestReply:
    status: ReplyStatus
    arrival_minutes: int | None
    replied_at: datetime


@dataclass(frozen=True, slots=True)
class ArrivalBucket:
    label: str  # "le_30", ..., "gt_120"
    min_minutes: int
    max_minutes: int | None  # None: open-ended
    count: int


@dataclass(frozen=True, slots=True)
class HourlyArrivals:
    hour: datetime  # start of the hour, JST
    arriving: int
    cumulative: int


@dataclass(frozen=True, slots=True)
class Summary:
    recipients: int
    replied: int
    by_status: dict[str, int]
    coming: int  # answered with an arrival time
    arrival_buckets: list[ArrivalBucket]
    expected_by_hour: list[HourlyArrivals]
    not_replied: list[Person] = field(default_factory=list)


def bucket_label(minutes: int) -> str:
    for bound in ARRIVAL_BUCKETS:
        if minutes <= bound:
            return f"le_{bound}"
    return f"gt_{ARRIVAL_BUCKETS[-1]}"


def _buckets(minutes: Sequence[int]) -> list[ArrivalBucket]:
    counts = Counter(bucket_label(m) for m in minutes)
    buckets, low = [], 0
    for bound in ARRIVAL_BUCKETS:
        label = f"le_{bound}"
        buckets.append(ArrivalBucket(label, low, bound, counts[label]))
        low = bound + 1
    last = f"gt_{ARRIVAL_BUCKETS[-1]}"
    buckets.append(ArrivalBucket(last, low, None, counts[last]))
    return buckets


def expected_arrival(reply: LatestReply) -> datetime | None:
    """An answer "in N minutes" counts from when it was given."""
    if reply.arrival_minutes is None:
        return None
    return reply.replied_at + timedelta(minutes=reply.arrival_minutes)


def _by_hour(arrivals: Sequence[datetime]) -> list[HourlyArrivals]:
    hours = Counter(a.astimezone(JST).replace(minute=0, second=0, microsecond=0) for a in arrivals)
    rows, total = [], 0
    for hour in sorted(hours):
        total += hours[hour]
        rows.append(HourlyArrivals(hour, hours[hour], total))
    return rows


def summarise(people: Sequence[Person], latest: Mapping[str, LatestReply]) -> Summary:
    answered = [latest[p.recipient_id] for p in people if p.recipient_id in latest]
    statuses = Counter(r.status for r in answered)
    minutes = [r.arrival_minutes for r in answered if r.arrival_minutes is not None]
    arrivals = [a for r in answered if (a := expected_arrival(r)) is not None]
    return Summary(
        recipients=len(people),
        replied=len(answered),
        by_status={s.value: statuses[s] for s in ReplyStatus},
        coming=len(minutes),
        arrival_buckets=_buckets(minutes),
        expected_by_hour=_by_hour(arrivals),
        not_replied=[p for p in people if p.recipient_id not in latest],
    )
