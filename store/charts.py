"""The sums the summary's charts draw (biểu đồ): violations month by month from the
person-months, and late arrivals by date and by minutes late from the violations. Sums run
in SQL; at most one row per month, or per date and bucket, comes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session as DbSession

from store.models import PersonMonth, ReviewState, ViolationRecord
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
