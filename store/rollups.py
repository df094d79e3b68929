"""Person-months: each person's month summed from day records and violations (derived).

``refresh`` rewrites the given (person, month) rows from the rows beneath them: a review
calls it in the transaction that records the decision, ``rebuild`` for everything, and the
runner in the transaction that writes day records (on PostgreSQL through ``MonthDeltas``,
which adds the differences of counts instead where it can). A summary then reads one row
per person and month, whatever the years stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Table,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session as DbSession

from store.bulk import among, bulk_insert, pg_array
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


# Counted late arrivals by weekday (date.weekday(): Monday 0) and by minutes late: the
# columns of person_months, and the lowest minute of each bucket after the first (which
# takes every arrival under 6 minutes late).
LATE_WEEKDAYS = ("late_mon", "late_tue", "late_wed", "late_thu", "late_fri", "late_sat", "late_sun")
LATE_BUCKETS = ("late_1_5", "late_6_15", "late_16_30", "late_31_60", "late_over_60")
LATE_BUCKET_FLOORS = (6, 16, 31, 61)


def late_bucket(minutes: int) -> int:
    """The index into ``LATE_BUCKETS`` of a late arrival of ``minutes``."""
    return sum(minutes >= low for low in LATE_BUCKET_FLOORS)


def month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _month_expr(db: DbSession, column: Any) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        return sql_cast(func.date_trunc("month", column), Date)
    return func.date(column, "start of month")


def _weekday_expr(db: DbSession, column: Any) -> Any:
    """The weekday of a date column as ``date.weekday()`` numbers it (Monday 0)."""
    if db.get_bind().dialect.name == "postgresql":
        return sql_cast(func.extract("isodow", column), Integer) - 1
    return (sql_cast(func.strftime("%w", column), Integer) + 6) % 7


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


Where = Callable[[Any], list[Any]]  # the rows wanted of a table (DayRecord, ViolationRecord)


def _day_sums(db: DbSession, where: Where, first: date, end: date) -> list[Any]:
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
            .where(*where(d), d.day >= first, d.day < end)
            .group_by(d.employee_id, month, d.unit_id)
        ).all()
    )


def _violation_sums(db: DbSession, where: Where, first: date, end: date) -> list[Any]:
    v = ViolationRecord
    month = _month_expr(db, v.day)
    counted = or_(ReviewState.decision.is_(None), ReviewState.decision == "confirmed")
    weekday = _weekday_expr(db, v.day)
    bucket = case(
        *[(v.minutes >= low, i + 1) for i, low in reversed(list(enumerate(LATE_BUCKET_FLOORS)))],
        else_=0,
    )
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
                # The minutes summed, then divided once: the same value whatever the order
                # of the rows, and what the runner's additions (add_deltas) keep exactly.
                sql_cast(
                    func.sum(case((and_(v.kind == "absent", counted), v.minutes), else_=0)),
                    Float,
                )
                / DAY_MINUTES,
                func.sum(
                    case((and_(v.kind.in_(["missing_in", "missing_out"]), counted), 1), else_=0)
                ),
                func.sum(case((ReviewState.decision == "confirmed", 1), else_=0)),
                func.sum(case((ReviewState.decision == "excused", 1), else_=0)),
                func.sum(case((ReviewState.decision == "dismissed", 1), else_=0)),
                *[
                    func.sum(case((and_(v.kind == "late", counted, weekday == i), 1), else_=0))
                    for i in range(len(LATE_WEEKDAYS))
                ],
                *[
                    func.sum(case((and_(v.kind == "late", counted, bucket == i), 1), else_=0))
                    for i in range(len(LATE_BUCKETS))
                ],
            )
            .outerjoin(ReviewState, _reviewed())
            .where(*where(v), v.active.is_(True), v.day >= first, v.day < end)
            .group_by(v.employee_id, month, v.unit_id)
        ).all()
    )


RowKey = tuple[int, date, int]  # (employee id, month, unit id)


def _runs(
    db: DbSession,
    pairs: set[tuple[int, date, int]],
    where: Where | None = None,
    span: tuple[date, date] | None = None,
) -> dict[tuple[int, date, int], tuple[int, int, int]]:
    """Head, tail and longest run of absent working days of each (person, month, unit), of
    the rows ``where`` picks (by default the pairs' people) and the days ``span`` [first, end)
    (by default their whole months)."""
    if not pairs:
        return {}
    if where is None:
        ids = {e for e, _, _ in pairs}
        where = lambda t: [among(db, t.employee_id, ids)]  # noqa: E731
    if span is None:
        span = (min(m for _, m, _ in pairs), _next_month(max(m for _, m, _ in pairs)))
    first, end = span
    d = DayRecord
    statuses: dict[RowKey, list[bool]] = defaultdict(list)
    for e, day, unit, status in db.execute(
        select(d.employee_id, d.day, d.unit_id, d.status)
        .where(
            *where(d),
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


def _rows(
    db: DbSession,
    where: Where,
    first: date,
    end: date,
    wanted: Callable[[int, date], bool] = lambda e, month: True,
) -> dict[RowKey, dict[str, Any]]:
    """Person-month rows of the day records and violations ``where`` picks, of the days
    [first, end), of the (person, month) pairs ``wanted``; not stored."""
    rows: dict[RowKey, dict[str, Any]] = {}

    def row(e: int, month: Any, unit: int) -> dict[str, Any] | None:
        key = (e, _as_date(month), unit)
        if not wanted(e, key[1]):
            return None
        if key not in rows:
            rows[key] = {c.name: 0 for c in PERSON_MONTHS.columns} | {
                "employee_id": e,
                "month": key[1],
                "unit_id": unit,
            }
        return rows[key]

    for e, month, unit, working, present, absent_status, lv, sk, tr, st, other in _day_sums(
        db, where, first, end
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
    for e, month, unit, *sums in _violation_sums(db, where, first, end):
        if (r := row(e, month, unit)) is not None:
            late, late_min, early, early_min, absent, missing, conf, exc, dis = sums[:9]
            r.update(zip((*LATE_WEEKDAYS, *LATE_BUCKETS), map(int, sums[9:]), strict=True))
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
        db, {k for k, r in rows.items() if r["absent_status_days"]}, where, (first, end)
    ).items():
        rows[key].update(absent_run_head=head, absent_run_tail=tail, absent_run_max=longest)
    for r in rows.values():  # integer and float columns as the table declares them
        for c in ("absent_days", *(k for k in r if k.startswith("excused_"))):
            r[c] = float(r[c])
    return rows


def partial_rows(
    db: DbSession, first: date, last: date, units: frozenset[int] | None
) -> list[dict[str, Any]]:
    """Person-month rows of the days from ``first`` to ``last`` only, in the units (every unit
    for None), read from the day records and not stored: the months a period has not whole
    (the month not over of a year pulled on 15/12, the ragged ends of a date range)."""
    if units is None:
        rows = _rows(db, lambda t: [], first, last + timedelta(days=1))
    else:
        rows = _rows(db, lambda t: [t.unit_id.in_(units)], first, last + timedelta(days=1))
    return [rows[k] for k in sorted(rows)]


_PG_DELETE = text(
    "DELETE FROM person_months p"
    " USING unnest(CAST(:e AS integer[]), CAST(:m AS date[])) AS k(e, m)"
    " WHERE p.employee_id = k.e AND p.month = k.m"
)


def _pg_in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _pg_group(group: str) -> str:
    return _pg_in(k for k, g in EXCUSE_GROUPS.items() if g == group)


_COUNTED = "(s.decision IS NULL OR s.decision = 'confirmed')"
# The select lists of a person-month's sums, of the day records ``r`` and of the violations ``x``
# with their current review ``s``: _PG_INSERT and _PG_PARTIAL group them their own way.
_PG_DAY_SUMS = f"""\
    count(*) FILTER (WHERE r.status IN {_pg_in(WORKING)}) AS working_days,
    count(*) FILTER (WHERE r.status IN {_pg_in(PRESENT)}) AS present_days,
    count(*) FILTER (WHERE r.status = 'absent') AS absent_status_days,
    coalesce(sum(r.excused_fraction) FILTER (WHERE r.excused_kind IN {_pg_group("leave")}), 0)
      AS excused_leave,
    coalesce(sum(r.excused_fraction) FILTER (WHERE r.excused_kind IN {_pg_group("sick")}), 0)
      AS excused_sick,
    coalesce(sum(r.excused_fraction) FILTER (WHERE r.excused_kind IN {_pg_group("trip")}), 0)
      AS excused_trip,
    coalesce(sum(r.excused_fraction) FILTER (WHERE r.excused_kind IN {_pg_group("study")}), 0)
      AS excused_study,
    coalesce(sum(r.excused_fraction) FILTER (WHERE r.excused_kind IS NOT NULL
      AND r.excused_kind NOT IN {_pg_in(EXCUSE_GROUPS)}), 0) AS excused_other"""
_PG_LATE = f"x.kind = 'late' AND {_COUNTED}"
_PG_LATE_SUMS = ",\n".join(
    [
        f"    count(*) FILTER (WHERE {_PG_LATE} AND extract(isodow FROM x.day) = {i + 1}) AS {c}"
        for i, c in enumerate(LATE_WEEKDAYS)
    ]
    + [
        f"    count(*) FILTER (WHERE {_PG_LATE} AND x.minutes >= {low}"
        f" AND x.minutes < {high}) AS {c}"
        for c, low, high in zip(
            LATE_BUCKETS,
            (-(2**31), *LATE_BUCKET_FLOORS),
            (*LATE_BUCKET_FLOORS, 2**31 - 1),
            strict=True,
        )
    ]
)
_LATE_COLUMNS = ", ".join((*LATE_WEEKDAYS, *LATE_BUCKETS))
_PG_LATE_VALUES = ", ".join(f"coalesce(v.{c}, 0)" for c in (*LATE_WEEKDAYS, *LATE_BUCKETS))
_PG_VIOLATION_SUMS = f"""\
    count(*) FILTER (WHERE x.kind = 'late' AND {_COUNTED}) AS late_count,
    coalesce(sum(x.minutes) FILTER (WHERE x.kind = 'late' AND {_COUNTED}), 0) AS late_minutes,
    count(*) FILTER (WHERE x.kind = 'early_leave' AND {_COUNTED}) AS early_count,
    coalesce(sum(x.minutes) FILTER (WHERE x.kind = 'early_leave' AND {_COUNTED}), 0)
      AS early_minutes,
    coalesce(sum(x.minutes) FILTER (WHERE x.kind = 'absent' AND {_COUNTED}), 0)::float8
      / {DAY_MINUTES} AS absent_days,
    count(*) FILTER (WHERE x.kind IN ('missing_in', 'missing_out') AND {_COUNTED})
      AS missing_punches,
    count(*) FILTER (WHERE s.decision = 'confirmed') AS confirmed,
    count(*) FILTER (WHERE s.decision = 'excused') AS excused,
    count(*) FILTER (WHERE s.decision = 'dismissed') AS dismissed,
{_PG_LATE_SUMS}"""
# The same sums as the SQLite path below, computed in the server from each pair's rows
# (LATERAL ... OFFSET 0: an index lookup per pair, whatever the table statistics say).
_PG_INSERT = text(
    f"""
WITH k AS (SELECT * FROM unnest(CAST(:e AS integer[]), CAST(:m AS date[])) AS k(e, m)),
d AS (
  SELECT r.employee_id, k.m AS month, r.unit_id,
{_PG_DAY_SUMS}
  FROM k CROSS JOIN LATERAL (SELECT * FROM day_records WHERE employee_id = k.e
    AND day >= k.m AND day < (k.m + interval '1 month')::date OFFSET 0) AS r
  GROUP BY r.employee_id, k.m, r.unit_id
),
v AS (
  SELECT x.employee_id, k.m AS month, x.unit_id,
{_PG_VIOLATION_SUMS}
  FROM k CROSS JOIN LATERAL (SELECT * FROM violations WHERE employee_id = k.e
    AND day >= k.m AND day < (k.m + interval '1 month')::date AND active OFFSET 0) AS x
  LEFT JOIN review_state s ON s.employee_id = x.employee_id AND s.day = x.day
    AND s.session = x.session AND s.kind = x.kind
  GROUP BY x.employee_id, k.m, x.unit_id
)
INSERT INTO person_months (employee_id, month, unit_id, working_days, present_days,
  late_count, late_minutes, early_count, early_minutes, absent_days, missing_punches,
  excused_leave, excused_sick, excused_trip, excused_study, excused_other,
  confirmed, excused, dismissed,
  absent_status_days, absent_run_head, absent_run_tail, absent_run_max, {_LATE_COLUMNS})
SELECT coalesce(d.employee_id, v.employee_id), coalesce(d.month, v.month),
  coalesce(d.unit_id, v.unit_id), coalesce(d.working_days, 0), coalesce(d.present_days, 0),
  coalesce(v.late_count, 0), coalesce(v.late_minutes, 0), coalesce(v.early_count, 0),
  coalesce(v.early_minutes, 0), coalesce(v.absent_days, 0), coalesce(v.missing_punches, 0),
  coalesce(d.excused_leave, 0), coalesce(d.excused_sick, 0), coalesce(d.excused_trip, 0),
  coalesce(d.excused_study, 0), coalesce(d.excused_other, 0),
  coalesce(v.confirmed, 0), coalesce(v.excused, 0), coalesce(v.dismissed, 0),
  coalesce(d.absent_status_days, 0), 0, 0, 0, {_PG_LATE_VALUES}
FROM d FULL JOIN v ON v.employee_id = d.employee_id AND v.month = d.month
  AND v.unit_id = d.unit_id
RETURNING employee_id, month, unit_id, absent_status_days
"""
)


def _pg_refresh(db: DbSession, wanted: set[Pair]) -> int:
    ordered = sorted(wanted)
    arrays = {"e": pg_array(e for e, _ in ordered), "m": pg_array(m for _, m in ordered)}
    db.execute(_PG_DELETE, arrays)
    written = db.execute(_PG_INSERT, arrays).all()
    _write_runs(db, {(e, m, u) for e, m, u, days in written if days})
    return len(written)


def _write_runs(db: DbSession, absent: set[tuple[int, date, int]]) -> None:
    """The absence runs of the given rows (person, month, unit), from their day records."""
    runs = [
        {"e": e, "m": m, "u": u, "h": head, "t": tail, "x": longest}
        for (e, m, u), (head, tail, longest) in _runs(db, absent).items()
    ]
    if runs:
        db.execute(
            text(
                "UPDATE person_months SET absent_run_head = :h, absent_run_tail = :t,"
                " absent_run_max = :x WHERE employee_id = :e AND month = :m AND unit_id = :u"
            ),
            runs,
        )


# ``partial_rows`` in the server, into a table of person_months' columns: the sums as
# _PG_INSERT makes them, the runs as gaps and islands of each row's working days.
_PG_PARTIAL = f"""
WITH d AS (
  SELECT r.employee_id, date_trunc('month', r.day)::date AS month, r.unit_id,
{_PG_DAY_SUMS}
  FROM day_records r WHERE r.day >= :first AND r.day <= :last {{units_r}}
  GROUP BY 1, 2, 3
),
v AS (
  SELECT x.employee_id, date_trunc('month', x.day)::date AS month, x.unit_id,
{_PG_VIOLATION_SUMS}
  FROM violations x
  LEFT JOIN review_state s ON s.employee_id = x.employee_id AND s.day = x.day
    AND s.session = x.session AND s.kind = x.kind
  WHERE x.active AND x.day >= :first AND x.day <= :last {{units_x}}
  GROUP BY 1, 2, 3
),
w AS (
  SELECT r.employee_id, date_trunc('month', r.day)::date AS month, r.unit_id, r.day,
    r.status = 'absent' AS absent,
    row_number() OVER (PARTITION BY r.employee_id, date_trunc('month', r.day), r.unit_id
      ORDER BY r.day) AS rn
  FROM day_records r JOIN d ON d.absent_status_days > 0 AND d.employee_id = r.employee_id
    AND d.unit_id = r.unit_id AND d.month = date_trunc('month', r.day)::date
  WHERE r.day >= :first AND r.day <= :last AND r.status IN {_pg_in(WORKING)}
),
islands AS (
  SELECT employee_id, month, unit_id, count(*) AS length, min(rn) AS starts, max(rn) AS ends
  FROM (SELECT w.*, rn - row_number() OVER (PARTITION BY employee_id, month, unit_id
      ORDER BY day) AS island FROM w WHERE absent) a
  GROUP BY employee_id, month, unit_id, island
),
runs AS (
  SELECT i.employee_id, i.month, i.unit_id,
    coalesce(max(i.length) FILTER (WHERE i.starts = 1), 0) AS head,
    coalesce(max(i.length) FILTER (WHERE i.ends = d.working_days), 0) AS tail,
    max(i.length) AS longest
  FROM islands i JOIN d USING (employee_id, month, unit_id)
  GROUP BY i.employee_id, i.month, i.unit_id
)
INSERT INTO {{table}} (employee_id, month, unit_id, working_days, present_days,
  late_count, late_minutes, early_count, early_minutes, absent_days, missing_punches,
  excused_leave, excused_sick, excused_trip, excused_study, excused_other,
  confirmed, excused, dismissed,
  absent_status_days, absent_run_head, absent_run_tail, absent_run_max, {_LATE_COLUMNS})
SELECT k.employee_id, k.month, k.unit_id, coalesce(d.working_days, 0),
  coalesce(d.present_days, 0), coalesce(v.late_count, 0), coalesce(v.late_minutes, 0),
  coalesce(v.early_count, 0), coalesce(v.early_minutes, 0), coalesce(v.absent_days, 0),
  coalesce(v.missing_punches, 0), coalesce(d.excused_leave, 0), coalesce(d.excused_sick, 0),
  coalesce(d.excused_trip, 0), coalesce(d.excused_study, 0), coalesce(d.excused_other, 0),
  coalesce(v.confirmed, 0), coalesce(v.excused, 0), coalesce(v.dismissed, 0),
  coalesce(d.absent_status_days, 0), coalesce(runs.head, 0), coalesce(runs.tail, 0),
  coalesce(runs.longest, 0), {_PG_LATE_VALUES}
FROM d FULL JOIN v USING (employee_id, month, unit_id)
  CROSS JOIN LATERAL (SELECT coalesce(d.employee_id, v.employee_id) AS employee_id,
    coalesce(d.month, v.month) AS month, coalesce(d.unit_id, v.unit_id) AS unit_id) k
  LEFT JOIN runs ON runs.employee_id = k.employee_id AND runs.month = k.month
    AND runs.unit_id = k.unit_id
"""


def insert_partial(
    db: DbSession, table: Table, first: date, last: date, units: frozenset[int] | None
) -> None:
    """``partial_rows`` written into ``table`` (of person_months' columns): on PostgreSQL in
    one statement, the rows never leaving the server."""
    if db.get_bind().dialect.name != "postgresql":
        rows = partial_rows(db, first, last, units)
        if rows:
            db.execute(table.insert(), rows)
        return
    in_units = "" if units is None else "AND {}.unit_id = ANY(CAST(:units AS integer[]))"
    statement = _PG_PARTIAL.format(
        table=table.name, units_r=in_units.format("r"), units_x=in_units.format("x")
    )
    params: dict[str, Any] = {"first": first, "last": last}
    if units is not None:
        params["units"] = pg_array(sorted(units))
    db.execute(text(statement), params)


def refresh(db: DbSession, pairs: Iterable[Pair]) -> int:
    """Rewrite the rows of the given (person, month) pairs from day records and violations.

    The caller holds the pairs (``store.queue.lock_keys``) or runs alone; returns the rows
    written."""
    wanted = {(e, month_of(m)) for e, m in pairs}
    if not wanted:
        return 0
    if db.get_bind().dialect.name == "postgresql":
        return _pg_refresh(db, wanted)
    ids = {e for e, _ in wanted}
    first = min(m for _, m in wanted)
    end = _next_month(max(m for _, m in wanted))
    rows = _rows(
        db,
        lambda t: [among(db, t.employee_id, ids)],
        first,
        end,
        lambda e, month: (e, month) in wanted,
    )
    pm = PERSON_MONTHS.c
    db.execute(delete(PERSON_MONTHS).where(tuple_(pm.employee_id, pm.month).in_(wanted)))
    bulk_insert(db, PERSON_MONTHS, [rows[k] for k in sorted(rows)])
    return len(rows)


# What day records and violations add to their person-month, in integers: these columns
# of person_months, then the absent minutes (absent_days × 480).
DELTA_COLUMNS = (
    "working_days",
    "present_days",
    "absent_status_days",
    "late_count",
    "late_minutes",
    "early_count",
    "early_minutes",
    "missing_punches",
    "confirmed",
    "excused",
    "dismissed",
    *LATE_WEEKDAYS,
    *LATE_BUCKETS,
)
_WIDTH = len(DELTA_COLUMNS) + 1
_ABSENT_MINUTES = len(DELTA_COLUMNS)
# A counted violation's (count, minutes) positions by kind; its review's decision's position.
_KIND_AT = {
    "late": (3, 4),
    "early_leave": (5, 6),
    "missing_in": (7, None),
    "missing_out": (7, None),
    "absent": (None, _ABSENT_MINUTES),
}
_DECISION_AT = {"confirmed": 8, "excused": 9, "dismissed": 10}
_LATE_WEEKDAY_AT = DELTA_COLUMNS.index(LATE_WEEKDAYS[0])
_LATE_BUCKET_AT = DELTA_COLUMNS.index(LATE_BUCKETS[0])


def count_day(total: list[int], status: str, sign: int) -> None:
    """A day record of ``status`` added to ``total`` (``sign`` 1) or taken away (-1)."""
    if status in WORKING:
        total[0] += sign
    if status in PRESENT:
        total[1] += sign
    elif status == "absent":
        total[2] += sign


def count_violation(
    total: list[int], kind: str, minutes: int, decision: str | None, sign: int, day: date
) -> None:
    """An active violation of ``day`` added to ``total`` (``sign`` 1) or taken away (-1), with
    its review's ``decision``: counted when it has none or is confirmed, as the sums count it
    (a late arrival also by its weekday and its bucket of minutes)."""
    if decision is None or decision == "confirmed":
        count, summed = _KIND_AT.get(kind, (None, None))
        if count is not None:
            total[count] += sign
        if summed is not None:
            total[summed] += sign * minutes
        if kind == "late":
            total[_LATE_WEEKDAY_AT + day.weekday()] += sign
            total[_LATE_BUCKET_AT + late_bucket(minutes)] += sign
    if decision is not None:
        total[_DECISION_AT[decision]] += sign


class MonthDeltas:
    """The changes a recompute makes to person-months, as differences of counts (PostgreSQL).

    A key whose day record and violations stay in one unit and whose excused days do not
    change moves its person-month by whole numbers (days, counts, minutes): ``add`` them and
    ``write`` adds them to the stored rows, one statement for the batch, without reading the
    month's other days (a refresh read every day record and violation of the month: 28 µs of
    server CPU a person-month with two days judged, 82 µs with twenty-one). Anything else (a
    unit change, a record deleted, excused days changed) is ``rewrite``: that person-month is
    refreshed from its rows as before. Absence runs are worked out again, from the month's
    statuses, for the rows with absent days."""

    def __init__(self) -> None:
        self.deltas: dict[tuple[int, date, int], list[int]] = {}
        self.rewritten: set[Pair] = set()

    def rewrite(self, employee_id: int, month: date) -> None:
        self.rewritten.add((employee_id, month))

    def total(self, employee_id: int, month: date, unit_id: int) -> list[int]:
        """The differences gathered so far for a row (person, month, unit), to add to with
        ``count_day`` and ``count_violation``."""
        key = (employee_id, month, unit_id)
        total = self.deltas.get(key)
        if total is None:
            total = self.deltas[key] = [0] * _WIDTH
        return total

    def write(self, db: DbSession) -> None:
        """Rewrite the person-months marked so, add the differences to the others."""
        if self.rewritten:
            refresh(db, self.rewritten)
        rows = {
            k: v for k, v in self.deltas.items() if (k[0], k[1]) not in self.rewritten and any(v)
        }
        if not rows:
            return
        ordered = sorted(rows)
        arrays = {
            name: pg_array(values)
            for name, values in zip(("e", "m", "u"), zip(*ordered, strict=True), strict=True)
        }
        for i, column in enumerate(zip(*(rows[k] for k in ordered), strict=True)):
            arrays[f"c{i}"] = pg_array(column)
        updated = db.execute(_PG_ADD, arrays).all()
        absent = {(e, m, u) for e, m, u, days in updated if days}
        missing = set(ordered) - {(e, m, u) for e, m, u, _ in updated}
        if missing:
            # A person's first row of a month (or of a unit in it): nothing was there to
            # add to, so the differences are the sums (``lock_keys`` holds the person).
            new = []
            for e, m, u in sorted(missing):
                values = rows[(e, m, u)]
                row = dict(_NEW_ROW)
                row.update(zip(DELTA_COLUMNS, values, strict=False))
                row.update(employee_id=e, month=m, unit_id=u, absent_days=values[-1] / DAY_MINUTES)
                new.append(row)
                if row["absent_status_days"]:
                    absent.add((e, m, u))
            bulk_insert(db, PERSON_MONTHS, new)
        _write_runs(db, absent)


# A new row's columns before its sums: integers 0, the excused shares 0.0.
_NEW_ROW: dict[str, Any] = {
    c.name: 0.0 if c.name.startswith("excused_") else 0 for c in PERSON_MONTHS.columns
}
_PG_ADD_SET = ", ".join(f"{c} = p.{c} + t.c{i}" for i, c in enumerate(DELTA_COLUMNS))
_PG_ADD_VALUES = ", ".join(f"c{i}" for i in range(_WIDTH))
# Each row found by its key through the primary key (LATERAL ... OFFSET 0), then updated by
# its tuple id: a join of the batch against person_months was planned as a scan of the whole
# table once its statistics lagged (146 ms a batch on 10,000 rows, and growing with them).
_PG_ADD = text(
    "WITH d AS (SELECT * FROM unnest(CAST(:e AS integer[]), CAST(:m AS date[]),"
    " CAST(:u AS integer[]), "
    + ", ".join(f"CAST(:c{i} AS integer[])" for i in range(_WIDTH))
    + f") AS d(e, m, u, {_PG_ADD_VALUES})), "
    "t AS (SELECT x.tid, d.* FROM d CROSS JOIN LATERAL (SELECT ctid AS tid FROM person_months"
    " WHERE employee_id = d.e AND month = d.m AND unit_id = d.u OFFSET 0) AS x) "
    "UPDATE person_months p SET "
    + _PG_ADD_SET
    + f", absent_days = (round(p.absent_days * {DAY_MINUTES}) + t.c{len(DELTA_COLUMNS)})"
    f"::float8 / {DAY_MINUTES}, "
    # A row left without absent days has no runs; one with some gets them from _write_runs.
    + ", ".join(
        f"{c} = CASE WHEN p.absent_status_days + t.c2 = 0 THEN 0 ELSE p.{c} END"
        for c in ("absent_run_head", "absent_run_tail", "absent_run_max")
    )
    + " FROM t WHERE p.ctid = t.tid"
    " RETURNING p.employee_id, p.month, p.unit_id, p.absent_status_days"
)


def rebuild(db: DbSession, first: date | None = None, last: date | None = None) -> int:
    """Recompute every person-month (of the months from ``first`` to ``last``) from the day
    records and violations; returns the rows written.

    Month by month: each month's people are read from that month's day records alone (one
    partition on PostgreSQL), so a long history never needs one distinct over all of it,
    which spilled to disk and ran for tens of minutes on 5 million day records."""
    pm = PERSON_MONTHS.c
    stale = delete(PERSON_MONTHS)
    if first is not None:
        stale = stale.where(pm.month >= month_of(first))
    if last is not None:
        stale = stale.where(pm.month <= month_of(last))
    db.execute(stale)
    d = DayRecord
    if first is None or last is None:
        bounds = db.execute(select(func.min(d.day), func.max(d.day))).one()
        if bounds[0] is None:
            lowest = highest = None
        else:
            lowest, highest = _as_date(bounds[0]), _as_date(bounds[1])
        first = first if first is not None else lowest
        last = last if last is not None else highest
    if first is None or last is None:
        return 0
    written = 0
    month = month_of(first)
    while month <= month_of(last):
        following = _next_month(month)
        people = sorted(
            db.scalars(select(d.employee_id).where(d.day >= month, d.day < following).distinct())
        )
        for i in range(0, len(people), 5000):
            written += refresh(db, [(e, month) for e in people[i : i + 5000]])
        month = following
    if db.get_bind().dialect.name == "postgresql":
        # the planner's figures for the rows just written: a summary planned on a table it
        # last saw empty nested-looped its aggregates for minutes
        db.execute(text("ANALYZE person_months"))
    return written


TOTALS = (
    "working_days",
    "present_days",
    "late_count",
    "late_minutes",
    "early_count",
    "early_minutes",
    "absent_days",
    "missing_punches",
    "excused_leave",
    "excused_sick",
    "excused_trip",
    "excused_study",
    "excused_other",
)


def person_totals(db: DbSession, employee_id: int, first: date, end: date) -> dict[str, float]:
    """One person's counts over the days [first, end), summed as a person-month sums them
    (every unit they were in): the month so far, where a person-month would count days
    not yet lived (an approved leave next week)."""
    totals = dict.fromkeys(TOTALS, 0.0)
    if end <= first:
        return totals

    def one(t: Any) -> list[Any]:
        return [t.employee_id == employee_id]

    for _, _, _, working, present, _, lv, sk, tr, st, other in _day_sums(db, one, first, end):
        for name, value in zip(
            TOTALS[:2] + TOTALS[8:], (working, present, lv, sk, tr, st, other), strict=True
        ):
            totals[name] += float(value or 0)
    for _, _, _, *sums in _violation_sums(db, one, first, end):
        for name, value in zip(TOTALS[2:8], sums[:6], strict=True):
            totals[name] += float(value or 0)
    return totals
