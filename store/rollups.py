"""Person-months: each person's month summed from day records and violations (derived).

``refresh`` rewrites the given (person, month) rows from the rows beneath them; the runner
calls it in the transaction that writes day records, a review in the transaction that
records the decision, and ``rebuild`` for everything. A summary then reads one row per person
and month, whatever the years stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session as DbSession

from store.bulk import among, bulk_insert
from store.models import DayRecord, PersonMonth, ReviewState, ViolationRecord

PERSON_MONTHS = cast(Table, PersonMonth.__table__)
Pair = tuple[int, date]  # (employee id, first day of the month)

WORKING = ("present", "late", "absent", "on_leave", "pending")
PRESENT = ("present", "late")
DAY_MINUTES = 480.0
EXCUSE_GROUPS = {
    "annual_leave": "leave",
    "personal_paid": "leave",
    "compensatory_day": "leave",
    "unpaid_leave": "leave",
    "sick_leave": "sick",
    "maternity": "sick",
    "business_trip": "trip",
    "outside_meeting": "trip",
    "training": "study",
}


def month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _month_expr(db: DbSession, column: Any) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        return sql_cast(func.date_trunc("month", column), Date)
    return func.date(column, "start of month")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _reviewed() -> Any:
    v = ViolationRecord
    return and_(
        ReviewState.employee_id == v.employee_id,
        ReviewState.day == v.day,
        ReviewState.session == v.session,
        ReviewState.kind == v.kind,
    )


def _day_sums(db: DbSession, ids: set[int], first: date, end: date) -> list[Any]:
    d = DayRecord
    month = _month_expr(db, d.day)
    groups = {
        g: [k for k, v in EXCUSE_GROUPS.items() if v == g] for g in set(EXCUSE_GROUPS.values())
    }
    return list(
        db.execute(
            select(
                d.employee_id,
                month.label("month"),
                d.unit_id,
                func.sum(case((d.status.in_(WORKING), 1), else_=0)),
                func.sum(case((d.status.in_(PRESENT), 1), else_=0)),
                func.sum(case((d.status == "absent", 1), else_=0)),
                *[
                    func.sum(case((d.excused_kind.in_(groups[g]), d.excused_fraction), else_=0.0))
                    for g in ("leave", "sick", "trip", "study")
                ],
                func.sum(
                    case(
                        (
                            and_(
                                d.excused_kind.is_not(None),
                                d.excused_kind.not_in(list(EXCUSE_GROUPS)),
                            ),
                            d.excused_fraction,
                        ),
                        else_=0.0,
                    )
                ),
            )
            .where(among(db, d.employee_id, ids), d.day >= first, d.day < end)
            .group_by(d.employee_id, month, d.unit_id)
        ).all()
    )


def _violation_sums(db: DbSession, ids: set[int], first: date, end: date) -> list[Any]:
    v = ViolationRecord
    month = _month_expr(db, v.day)
    counted = or_(ReviewState.decision.is_(None), ReviewState.decision == "confirmed")
    return list(
        db.execute(
            select(
                v.employee_id,
                month.label("month"),
                v.unit_id,
                func.sum(case((and_(v.kind == "late", counted), 1), else_=0)),
                func.sum(case((and_(v.kind == "late", counted), v.minutes), else_=0)),
                func.sum(case((and_(v.kind == "early_leave", counted), 1), else_=0)),
                func.sum(case((and_(v.kind == "early_leave", counted), v.minutes), else_=0)),
                func.sum(
                    case(
                        (
                            and_(v.kind == "absent", counted),
                            sql_cast(v.minutes, Float) / DAY_MINUTES,
                        ),
                        else_=0.0,
                    )
                ),
                func.sum(
                    case((and_(v.kind.in_(["missing_in", "missing_out"]), counted), 1), else_=0)
                ),
                func.sum(case((ReviewState.decision == "confirmed", 1), else_=0)),
                func.sum(case((ReviewState.decision == "excused", 1), else_=0)),
                func.sum(case((ReviewState.decision == "dismissed", 1), else_=0)),
            )
            .outerjoin(ReviewState, _reviewed())
            .where(among(db, v.employee_id, ids), v.active.is_(True), v.day >= first, v.day < end)
            .group_by(v.employee_id, month, v.unit_id)
        ).all()
    )


RowKey = tuple[int, date, int]  # (employee id, month, unit id)


def _runs(
    db: DbSession, pairs: set[tuple[int, date, int]]
) -> dict[tuple[int, date, int], tuple[int, int, int]]:
    """Head, tail and longest run of absent working days of each (person, month, unit)."""
    if not pairs:
        return {}
    ids = {e for e, _, _ in pairs}
    first = min(m for _, m, _ in pairs)
    end = _next_month(max(m for _, m, _ in pairs))
    d = DayRecord
    statuses: dict[RowKey, list[bool]] = defaultdict(list)
    for e, day, unit, status in db.execute(
        select(d.employee_id, d.day, d.unit_id, d.status)
        .where(
            among(db, d.employee_id, ids),
            d.day >= first,
            d.day < end,
            d.status.in_(WORKING),
        )
        .order_by(d.employee_id, d.day)
    ):
        key = (e, month_of(day), unit)
        if key in pairs:
            statuses[key].append(status == "absent")
    runs = {}
    for key, days in statuses.items():
        head = next((i for i, absent in enumerate(days) if not absent), len(days))
        tail = next((i for i, absent in enumerate(reversed(days)) if not absent), len(days))
        longest = current = 0
        for absent in days:
            current = current + 1 if absent else 0
            longest = max(longest, current)
        runs[key] = (head, tail, longest)
    return runs


_PG_DELETE = text(
    "DELETE FROM person_months p USING unnest(:e, :m) AS k(e, m)"
    " WHERE p.employee_id = k.e AND p.month = k.m"
).bindparams(bindparam("e", type_=ARRAY(Integer)), bindparam("m", type_=ARRAY(Date)))


def refresh(db: DbSession, pairs: Iterable[Pair]) -> int:
    """Rewrite the rows of the given (person, month) pairs from day records and violations.

    The caller holds the pairs (``store.queue.lock_keys``) or runs alone; returns the rows
    written."""
    wanted = {(e, month_of(m)) for e, m in pairs}
    if not wanted:
        return 0
    ids = {e for e, _ in wanted}
    first = min(m for _, m in wanted)
    end = _next_month(max(m for _, m in wanted))
    rows: dict[RowKey, dict[str, Any]] = {}

    def row(e: int, month: Any, unit: int) -> dict[str, Any] | None:
        key = (e, _as_date(month), unit)
        if (e, key[1]) not in wanted:
            return None
        if key not in rows:
            rows[key] = {c.name: 0 for c in PERSON_MONTHS.columns} | {
                "employee_id": e,
                "month": key[1],
                "unit_id": unit,
            }
        return rows[key]

    for e, month, unit, working, present, absent_status, lv, sk, tr, st, other in _day_sums(
        db, ids, first, end
    ):
        if (r := row(e, month, unit)) is not None:
            r.update(
                working_days=int(working or 0),
                present_days=int(present or 0),
                absent_status_days=int(absent_status or 0),
                excused_leave=float(lv or 0),
                excused_sick=float(sk or 0),
                excused_trip=float(tr or 0),
                excused_study=float(st or 0),
                excused_other=float(other or 0),
            )
    for e, month, unit, *sums in _violation_sums(db, ids, first, end):
        if (r := row(e, month, unit)) is not None:
            late, late_min, early, early_min, absent, missing, conf, exc, dis = sums
            r.update(
                late_count=int(late or 0),
                late_minutes=int(late_min or 0),
                early_count=int(early or 0),
                early_minutes=int(early_min or 0),
                absent_days=float(absent or 0),
                missing_punches=int(missing or 0),
                confirmed=int(conf or 0),
                excused=int(exc or 0),
                dismissed=int(dis or 0),
            )
    for key, (head, tail, longest) in _runs(
        db, {k for k, r in rows.items() if r["absent_status_days"]}
    ).items():
        rows[key].update(absent_run_head=head, absent_run_tail=tail, absent_run_max=longest)
    for r in rows.values():  # integer and float columns as the table declares them
        for c in ("absent_days", *(k for k in r if k.startswith("excused_"))):
            r[c] = float(r[c])
    if db.get_bind().dialect.name == "postgresql":
        ordered = sorted(wanted)
        db.execute(_PG_DELETE, {"e": [e for e, _ in ordered], "m": [m for _, m in ordered]})
    else:
        pm = PERSON_MONTHS.c
        db.execute(delete(PERSON_MONTHS).where(tuple_(pm.employee_id, pm.month).in_(wanted)))
    bulk_insert(db, PERSON_MONTHS, [rows[k] for k in sorted(rows)])
    return len(rows)


def rebuild(db: DbSession, first: date | None = None, last: date | None = None) -> int:
    """Recompute every person-month (of the months from ``first`` to ``last``) from the day
    records and violations; returns the rows written."""
    d = DayRecord
    query = select(d.employee_id, _month_expr(db, d.day)).distinct()
    if first is not None:
        query = query.where(d.day >= month_of(first))
    if last is not None:
        query = query.where(d.day < _next_month(month_of(last)))
    pairs = {(e, _as_date(month)) for e, month in db.execute(query)}
    pm = PERSON_MONTHS.c
    stale = delete(PERSON_MONTHS)
    if first is not None:
        stale = stale.where(pm.month >= month_of(first))
    if last is not None:
        stale = stale.where(pm.month <= month_of(last))
    db.execute(stale)
    written = 0
    ordered = sorted(pairs)
    for i in range(0, len(ordered), 5000):
        written += refresh(db, ordered[i : i + 5000])
    return written
