"""The sums the summary's charts draw (biểu đồ): violations month by month, and late arrivals
by weekday and by minutes late, from the person-months (the days of a month the period holds
only in part from the violations). Sums run in SQL; at most one row per month, or per date
and bucket, comes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session as DbSession

from store.models import PersonMonth, ReviewState, ViolationRecord
from store.rollups import LATE_BUCKETS as LATE_BUCKET_COLUMNS
from store.rollups import LATE_WEEKDAYS
from store.summaries import _reviewed

# Minutes late, in buckets a reader compares: (lowest minute, label).
LATE_BUCKETS: tuple[tuple[int, str], ...] = (
    (1, "1–5 phút"),
    (6, "6–15 phút"),
    (16, "16–30 phút"),
    (31, "31–60 phút"),
    (61, "Trên 60 phút"),
)


@dataclass(frozen=True, slots=True)
class MonthTotal:
    """One month of the units in scope: the terms of the violation rate."""

    month: date  # its first day
    working_days: int
    late_count: int
    early_count: int
    absent_days: float


def month_totals(
    db: DbSession, first: date, last: date, units: frozenset[int] | None
) -> list[MonthTotal]:
    """Sums per month (its first day) from ``first`` to ``last``; empty months left out."""
    pm = PersonMonth
    query = select(
        pm.month,
        func.sum(pm.working_days),
        func.sum(pm.late_count),
        func.sum(pm.early_count),
        func.sum(pm.absent_days),
    ).where(pm.month >= first, pm.month <= last)
    if units is not None:
        query = query.where(pm.unit_id.in_(sorted(units)))
    rows = db.execute(query.group_by(pm.month).order_by(pm.month))
    return [
        MonthTotal(month, int(w or 0), int(late or 0), int(early or 0), float(absent or 0))
        for month, w, late, early, absent in rows
    ]


def late_by_day_and_bucket(
    db: DbSession, first: date, last: date, units: frozenset[int] | None
) -> list[tuple[date, int, int]]:
    """(date, bucket index into ``LATE_BUCKETS``, count) of the active late arrivals that
    count (not excused or dismissed), as the summary counts them."""
    v = ViolationRecord
    bucket = case(
        *[(v.minutes >= low, index) for index, (low, _) in reversed(list(enumerate(LATE_BUCKETS)))],
        else_=0,
    ).label("bucket")
    query = (
        select(v.day, bucket, func.count())
        .outerjoin(ReviewState, _reviewed())
        .where(
            v.day >= first,
            v.day <= last,
            v.kind == "late",
            v.active.is_(True),
            or_(ReviewState.decision.is_(None), ReviewState.decision == "confirmed"),
        )
        .group_by(v.day, bucket)
    )
    if units is not None:
        query = query.where(v.unit_id.in_(sorted(units)))
    return [(day, int(b), int(n)) for day, b, n in db.execute(query)]


def late_shape(
    db: DbSession, first: date, last: date, units: frozenset[int] | None
) -> tuple[list[int], list[int]]:
    """The counted late arrivals from ``first`` to ``last`` (not excused or dismissed) by
    weekday (7, Monday first) and by bucket of ``LATE_BUCKETS`` (5): the whole months from
    the person-months' counts, the days of a month held in part from the violations, so the
    figures are those ``late_by_day_and_bucket`` gives for the same days."""
    weekdays = [0] * len(LATE_WEEKDAYS)
    buckets = [0] * len(LATE_BUCKETS)
    if first > last:
        return weekdays, buckets
    whole_first = first if first.day == 1 else _next_month(first)
    following = last + timedelta(days=1)
    whole_end = following if following.day == 1 else last.replace(day=1)
    pieces = []
    if whole_first < whole_end:
        if first < whole_first:
            pieces.append((first, whole_first - timedelta(days=1)))
        if whole_end <= last:
            pieces.append((whole_end, last))
        pm = PersonMonth
        query = select(
            *[
                func.coalesce(func.sum(getattr(pm, c)), 0)
                for c in (*LATE_WEEKDAYS, *LATE_BUCKET_COLUMNS)
            ]
        ).where(pm.month >= whole_first, pm.month < whole_end)
        if units is not None:
            query = query.where(pm.unit_id.in_(sorted(units)))
        sums = [int(n) for n in db.execute(query).one()]
        weekdays = sums[: len(LATE_WEEKDAYS)]
        buckets = sums[len(LATE_WEEKDAYS) :]
    else:
        pieces.append((first, last))
    for a, b in pieces:
        for day, bucket, count in late_by_day_and_bucket(db, a, b, units):
            weekdays[day.weekday()] += count
            buckets[bucket] += count
    return weekdays, buckets


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
