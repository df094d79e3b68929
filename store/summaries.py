"""Discipline summaries for Nội vụ (báo cáo tình hình chấp hành kỷ luật, kỷ cương hành chính).

Aggregated in SQL: per person and per unit, over a month, quarter or year. A violation
counts unless a reviewer excused or dismissed it; absences are counted in days (an absent
session is its minutes over an 8-hour day); excused absence comes from the day records.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import reduce
from operator import add, attrgetter
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    MetaData,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased

from kycuong.labels import vn_number
from store.bulk import among
from store.models import DayRecord, Employee, PersonMonth, ReviewState, Unit, ViolationRecord
from store.rollups import PERSON_MONTHS, insert_partial

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


@dataclass(slots=True)
class Line:
    """One row of the summary table, for a person or a unit."""

    key: int
    name: str
    code: str = ""
    unit_id: int = 0
    unit_name: str = ""
    staff: int = 0
    working_days: int = 0
    present_days: int = 0
    late_count: int = 0
    late_minutes: int = 0
    early_count: int = 0
    early_minutes: int = 0
    absent_days: float = 0.0
    excused_leave: float = 0.0
    excused_sick: float = 0.0
    excused_trip: float = 0.0
    excused_study: float = 0.0
    excused_other: float = 0.0
    missing_punches: int = 0
    confirmed: int = 0
    excused: int = 0
    dismissed: int = 0
    max_month_absent_days: float = 0.0
    max_consecutive_absent_days: int = 0
    flags: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Violations per 100 working days (ngày công): each late arrival, each early
        departure and each day of unexcused absence counts one."""
        events = self.late_count + self.early_count + self.absent_days
        return round(100.0 * events / self.working_days, 2) if self.working_days else 0.0

    def add(self, other: Line) -> None:
        """Sum ``other``'s figures into this line (a unit's or the total's); spelled out:
        a province adds 30,000 people."""
        self.staff += other.staff
        self.working_days += other.working_days
        self.present_days += other.present_days
        self.late_count += other.late_count
        self.late_minutes += other.late_minutes
        self.early_count += other.early_count
        self.early_minutes += other.early_minutes
        self.absent_days += other.absent_days
        self.excused_leave += other.excused_leave
        self.excused_sick += other.excused_sick
        self.excused_trip += other.excused_trip
        self.excused_study += other.excused_study
        self.excused_other += other.excused_other
        self.missing_punches += other.missing_punches
        self.confirmed += other.confirmed
        self.excused += other.excused
        self.dismissed += other.dismissed


@dataclass(frozen=True, slots=True)
class Thresholds:
    month_days: float = 5
    year_days: float = 20
    consecutive_days: int = 5


def _reviewed() -> Any:
    """Join condition: a violation and its current review, by identity."""
    v = ViolationRecord
    return and_(
        ReviewState.employee_id == v.employee_id,
        ReviewState.day == v.day,
        ReviewState.session == v.session,
        ReviewState.kind == v.kind,
    )


def _counted() -> Any:
    return or_(ReviewState.decision.is_(None), ReviewState.decision == "confirmed")


Row = tuple[Any, ...]  # a person's line as a tuple of Line's fields in their order (flags last)
LINE_FIELDS = tuple(Line.__dataclass_fields__)
row_of: Callable[[Line], Row] = attrgetter(*LINE_FIELDS)  # a Line as its Row


def lines_of(rows: Iterable[Row]) -> list[Line]:
    return [Line(*row) for row in rows]


def person_lines(
    db: DbSession, first: date, last: date, units: frozenset[int] | None, thresholds: Thresholds
) -> list[Line]:
    """``person_rows`` as lines."""
    return lines_of(person_rows(db, first, last, units, thresholds))


def person_rows(
    db: DbSession, first: date, last: date, units: frozenset[int] | None, thresholds: Thresholds
) -> list[Row]:
    """One line per person with a day record in the period and in scope, as a ``Row``.

    Whole months read the person-months (``store.rollups``): one row per person and month,
    whatever the history stored. The days of a month the period holds only in part (the
    month not over of a year pulled on 15/12, a date range's ends) are summed from the day
    records into rows of the same shape, which the same queries read beside them."""
    if first > last:
        return []
    if db.get_bind().dialect.name == "postgresql":
        # groups and sorts in memory: at the default 4 MB a province's 30,000 lines sorted on
        # disk, twice (≈ 40 % of the month's query), and so did a partial month's windows.
        # No JIT: a year's absence runs cost past jit_above_cost, and compiling them took
        # 230 ms of a 700 ms query (EXPLAIN ANALYZE, 30,000 people) that runs in 470 without
        db.execute(text("SET LOCAL work_mem = '64MB'"))
        db.execute(text("SET LOCAL jit = off"))
    whole_first = first if first.day == 1 else _next_month(first)
    whole_end = _next_month(last) if (last + timedelta(days=1)).day == 1 else last.replace(day=1)
    if whole_first >= whole_end:
        pieces = [(first, last)]
    else:
        pieces = []
        if first < whole_first:
            pieces.append((first, whole_first - timedelta(days=1)))
        if whole_end <= last:
            pieces.append((whole_end, last))
    if not pieces:
        return _rows(db, lambda: PersonMonth, first, last, units, thresholds)
    conn = db.connection()
    _PARTIAL.create(conn, checkfirst=True)
    try:
        db.execute(delete(_PARTIAL))
        for a, b in pieces:
            insert_partial(db, _PARTIAL, a, b, units)
        if conn.dialect.name == "postgresql":
            db.execute(text(f"ANALYZE {_PARTIAL.name}"))  # a temporary table has no statistics
        pm = PERSON_MONTHS.c

        def source() -> Any:
            return aliased(
                PersonMonth,
                union_all(
                    select(PERSON_MONTHS).where(pm.month >= whole_first, pm.month < whole_end),
                    select(_PARTIAL),
                ).subquery(),
            )

        return _rows(db, source, first.replace(day=1), last, units, thresholds)
    finally:
        _PARTIAL.drop(conn, checkfirst=True)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


# The partial months of one summary: a temporary table (of the connection), dropped after use.
_PARTIAL = Table(
    "summary_partial_months",
    MetaData(),
    *[Column(c.name, c.type, primary_key=c.primary_key) for c in PERSON_MONTHS.columns],
    prefixes=["TEMPORARY"],
)


_SUMMED = (
    "working_days",
    "present_days",
    "late_count",
    "late_minutes",
    "early_count",
    "early_minutes",
    "absent_days",
    "excused_leave",
    "excused_sick",
    "excused_trip",
    "excused_study",
    "excused_other",
    "missing_punches",
    "confirmed",
    "excused",
    "dismissed",
)


def person_lines_from_months(
    db: DbSession, first: date, last: date, units: frozenset[int] | None, thresholds: Thresholds
) -> list[Line]:
    """``person_lines`` of whole months, from the person-months."""
    return lines_of(_rows(db, lambda: PersonMonth, first, last, units, thresholds))


def _rows(
    db: DbSession,
    source: Callable[[], Any],
    first: date,
    last: date,
    units: frozenset[int] | None,
    thresholds: Thresholds,
) -> list[Row]:
    """The rows of the person-months ``source()`` gives (a new FROM at each call) of the
    months ``first`` to ``last``: the sums in one GROUP BY, then the longest absence from the
    few months an absence run touches (``_longest_runs``)."""
    pm = source()
    scope = [pm.month >= first, pm.month <= last]
    if units is not None:
        scope.append(among(db, pm.unit_id, units))
    runs = _longest_runs(db, source, first, last, units)
    sums = (
        select(
            pm.employee_id.label("e"),
            func.max(pm.unit_id).label("unit_id"),
            *[func.sum(getattr(pm, c)).label(c) for c in _SUMMED],
            func.max(pm.absent_days).label("worst"),
            func.max(pm.absent_run_max).label("inside"),
            func.min(pm.unit_id).label("first_unit"),
        )
        .where(*scope)
        .group_by(pm.employee_id)
        .subquery()
    )
    s = sums.c
    found = _batches(
        db,
        select(
            s.e,
            Employee.full_name,
            Employee.code,
            s.unit_id,
            Unit.name,
            *[s[c] for c in _SUMMED],
            s.worst,
            s.inside,
            s.first_unit,
        )
        .join(Employee, Employee.id == s.e)
        .join(Unit, Unit.id == s.unit_id)
        .order_by(Unit.name, Employee.code),
    )
    # integer columns sum to int, float columns to float (SQLite and PostgreSQL alike); a
    # person costs one tuple: the flags are worked out only for the few who reach a threshold
    rows: list[Row] = []
    append = rows.append
    month_days, period_days = thresholds.month_days, thresholds.year_days
    run_days = thresholds.consecutive_days
    movers = []  # where the people in two units within the period stand in ``rows``
    for batch in found:
        for r in batch:
            absent = round(float(r[11]), 2)
            worst = round(float(r[21]), 2)
            inside = r[22]
            if runs:
                inside = max(inside, runs.get(r[0], 0))
            if r[23] != r[3]:
                movers.append(len(rows))
            if worst >= month_days or absent >= period_days or inside >= run_days:
                flags = _flags(worst, absent, inside, thresholds)
            else:
                flags = []
            append((*r[:5], 1, *r[5:11], absent, *r[12:21], worst, inside, flags))
    if movers:  # a month may hold two rows of theirs, its days summed
        worst_months = _worst_months(
            db, pm, [*scope, among(db, pm.employee_id, {rows[i][0] for i in movers})]
        )
        for i in movers:
            row = rows[i]
            worst = max(worst_months.get(row[0], 0.0), row[22])
            flags = _flags(worst, row[12], row[23], thresholds)
            rows[i] = (*row[:22], worst, row[23], flags)
    return rows


def _batches(db: DbSession, statement: Any, size: int = 2000) -> Iterator[Sequence[Row]]:
    """The rows of ``statement`` as plain tuples, ``size`` at a time. On PostgreSQL straight
    from the driver's cursor: SQLAlchemy's result rows were a fifth of a province's summary
    (30,000 rows of 25 plain numbers and texts: no type to convert)."""
    connection = db.connection()
    if connection.dialect.name != "postgresql":
        yield from connection.execute(statement.execution_options(yield_per=size)).partitions()
        return
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), compiled.params)
        while batch := cursor.fetchmany(size):
            yield batch
    finally:
        cursor.close()


def _worst_months(db: DbSession, pm: Any, scope: list[Any]) -> dict[int, float]:
    """The worst of the months in which a person has two rows (moved between units), their
    rows summed: the worst month is this or the largest row, whichever is more. Read for the
    people ``scope`` names who were in two units in the period: only they can have two rows
    in a month (a person-month is one per unit)."""
    per_month = (
        select(pm.employee_id.label("e"), func.sum(pm.absent_days).label("days"))
        .where(*scope)
        .group_by(pm.employee_id, pm.month)
        .having(func.count() > 1)
        .subquery()
    )
    rows = db.execute(select(per_month.c.e, func.max(per_month.c.days)).group_by(per_month.c.e))
    return {e: round(float(days), 2) for e, days in rows}


_ZERO: Any = literal_column("0")


def _longest_runs(
    db: DbSession, source: Callable[[], Any], first: date, last: date, units: frozenset[int] | None
) -> dict[int, int]:
    """The longest absence run of each person as months join it, read from the months that
    start or end absent only (a few in a hundred).

    A month absent on every working day carries a run on; another month with working days
    ends it with its head and starts the next with its tail. A month with working days and
    no absence at either end, between two of those read, cuts the run: looked for only
    where it matters (``_cut_between``), not counted for every month read."""
    pm = source()
    scope = [pm.month >= first, pm.month <= last]
    if units is not None:
        scope.append(among(db, pm.unit_id, units))
    rows = db.execute(
        select(
            pm.employee_id,
            pm.month,
            pm.unit_id,
            pm.working_days,
            pm.absent_run_head,
            pm.absent_run_tail,
        )
        # the constants written out (not parameters): the planner then sees the partial
        # index ix_person_months_runs covers these months (a year read 330,000 rows without)
        .where(*scope, or_(pm.absent_run_head > _ZERO, pm.absent_run_tail > _ZERO))
        .order_by(pm.employee_id, pm.month, pm.unit_id)
    ).all()
    cut = _cut_between(db, source, first, last, units, list(rows))
    runs: dict[int, int] = {}
    person, current, longest = 0, 0, 0
    for i, (e, _, _, working, head, tail) in enumerate(rows):
        if e != person:
            if longest:
                runs[person] = longest
            person, current, longest = e, 0, 0
        if i in cut:
            current = 0  # a month with working days and no absence at its ends came between
        if working and head == working:
            current += working
        elif working:
            longest = max(longest, current + head)
            current = tail
        longest = max(longest, current)
    if longest:
        runs[person] = longest
    return runs


def _cut_between(
    db: DbSession,
    source: Callable[[], Any],
    first: date,
    last: date,
    units: frozenset[int] | None,
    rows: list[Any],
) -> set[int]:
    """The indexes ``i`` of ``rows`` (a person's months read, in order) with a month of
    working days not read between ``rows[i - 1]`` and ``rows[i]``.

    Only where a run could go on matters: the month before ends absent and this one starts
    absent. Their people's months with working days are read once, by person (the count of
    the months before each month read, a lookup per month, was most of a year's query)."""
    candidates = [
        i
        for i in range(1, len(rows))
        if rows[i][0] == rows[i - 1][0] and rows[i - 1][5] > 0 and rows[i][4] > 0
    ]
    if not candidates:
        return set()
    other = source()
    where = [
        other.month >= first,
        other.month <= last,
        other.working_days > 0,
        among(db, other.employee_id, {rows[i][0] for i in candidates}),
    ]
    if units is not None:
        where.append(among(db, other.unit_id, units))
    worked: dict[int, list[tuple[date, int]]] = {}
    for e, month, unit in db.execute(
        select(other.employee_id, other.month, other.unit_id)
        .where(*where)
        .order_by(other.employee_id, other.month, other.unit_id)
    ):
        worked.setdefault(e, []).append((month, unit))
    cut = set()
    for i in candidates:
        months = worked.get(rows[i][0], [])
        after = bisect_right(months, (rows[i - 1][1], rows[i - 1][2]))
        if after < len(months) and months[after] < (rows[i][1], rows[i][2]):
            cut.add(i)
    return cut


def person_lines_from_days(
    db: DbSession, first: date, last: date, units: frozenset[int] | None, thresholds: Thresholds
) -> list[Line]:
    """``person_lines`` of any period, from the day records and violations themselves."""
    days = (
        select(
            DayRecord.employee_id.label("employee_id"),
            func.max(DayRecord.unit_id).label("unit_id"),
            func.sum(case((DayRecord.status.in_(WORKING), 1), else_=0)).label("working"),
            func.sum(case((DayRecord.status.in_(PRESENT), 1), else_=0)).label("present"),
            *[
                func.sum(
                    case(
                        (
                            DayRecord.excused_kind.in_(
                                [k for k, g in EXCUSE_GROUPS.items() if g == group]
                            ),
                            DayRecord.excused_fraction,
                        ),
                        else_=0.0,
                    )
                ).label(f"ex_{group}")
                for group in ("leave", "sick", "trip", "study")
            ],
            func.sum(
                case(
                    (
                        and_(
                            DayRecord.excused_kind.is_not(None),
                            DayRecord.excused_kind.not_in(list(EXCUSE_GROUPS)),
                        ),
                        DayRecord.excused_fraction,
                    ),
                    else_=0.0,
                )
            ).label("ex_other"),
        )
        .where(DayRecord.day >= first, DayRecord.day <= last)
        .group_by(DayRecord.employee_id)
    )
    if units is not None:
        days = days.where(DayRecord.unit_id.in_(units))
    counted = _counted()
    v = ViolationRecord
    violations = (
        select(
            v.employee_id.label("employee_id"),
            func.sum(case((and_(v.kind == "late", counted), 1), else_=0)).label("late_count"),
            func.sum(case((and_(v.kind == "late", counted), v.minutes), else_=0)).label(
                "late_minutes"
            ),
            func.sum(case((and_(v.kind == "early_leave", counted), 1), else_=0)).label(
                "early_count"
            ),
            func.sum(case((and_(v.kind == "early_leave", counted), v.minutes), else_=0)).label(
                "early_minutes"
            ),
            func.sum(
                case(
                    (and_(v.kind == "absent", counted), cast(v.minutes, Float) / DAY_MINUTES),
                    else_=0.0,
                )
            ).label("absent_days"),
            func.sum(
                case((and_(v.kind.in_(["missing_in", "missing_out"]), counted), 1), else_=0)
            ).label("missing"),
            func.sum(case((ReviewState.decision == "confirmed", 1), else_=0)).label("confirmed"),
            func.sum(case((ReviewState.decision == "excused", 1), else_=0)).label("excused"),
            func.sum(case((ReviewState.decision == "dismissed", 1), else_=0)).label("dismissed"),
        )
        .outerjoin(ReviewState, _reviewed())
        .where(v.active.is_(True), v.day >= first, v.day <= last)
        .group_by(v.employee_id)
    )
    if units is not None:
        violations = violations.where(v.unit_id.in_(units))
    d, vs = days.subquery(), violations.subquery()
    rows = (
        db.execute(
            select(d, vs, Employee.code, Employee.full_name, Unit.name.label("unit_name"))
            .join(Employee, Employee.id == d.c.employee_id)
            .join(Unit, Unit.id == d.c.unit_id)
            .outerjoin(vs, vs.c.employee_id == d.c.employee_id)
            .order_by(Unit.name, Employee.code)
        )
        .mappings()
        .all()
    )
    monthly = _max_month_absence(db, first, last, units)
    streaks = _longest_absence(db, first, last, units)
    lines = []
    for r in rows:
        line = Line(
            key=r["employee_id"],
            name=r["full_name"],
            code=r["code"],
            unit_id=r["unit_id"],
            unit_name=r["unit_name"],
            staff=1,
            working_days=int(r["working"] or 0),
            present_days=int(r["present"] or 0),
            late_count=int(r["late_count"] or 0),
            late_minutes=int(r["late_minutes"] or 0),
            early_count=int(r["early_count"] or 0),
            early_minutes=int(r["early_minutes"] or 0),
            absent_days=round(float(r["absent_days"] or 0), 2),
            excused_leave=float(r["ex_leave"] or 0),
            excused_sick=float(r["ex_sick"] or 0),
            excused_trip=float(r["ex_trip"] or 0),
            excused_study=float(r["ex_study"] or 0),
            excused_other=float(r["ex_other"] or 0),
            missing_punches=int(r["missing"] or 0),
            confirmed=int(r["confirmed"] or 0),
            excused=int(r["excused"] or 0),
            dismissed=int(r["dismissed"] or 0),
            max_month_absent_days=monthly.get(r["employee_id"], 0.0),
            max_consecutive_absent_days=streaks.get(r["employee_id"], 0),
        )
        line.flags = flags_for(line, thresholds)
        lines.append(line)
    return lines


def flags_for(line: Line, thresholds: Thresholds) -> list[str]:
    """Threshold flags (vượt ngưỡng xem xét kỷ luật), in Vietnamese."""
    return _flags(
        line.max_month_absent_days,
        line.absent_days,
        line.max_consecutive_absent_days,
        thresholds,
    )


def _flags(month_days: float, days: float, consecutive: int, thresholds: Thresholds) -> list[str]:
    flags = []
    if month_days >= thresholds.month_days:
        flags.append(f"Nghỉ không lý do {vn_number(month_days)} ngày trong một tháng")
    if days >= thresholds.year_days:
        flags.append(f"Nghỉ không lý do {vn_number(days)} ngày trong kỳ")
    if consecutive >= thresholds.consecutive_days:
        flags.append(f"Nghỉ không lý do {consecutive} ngày liên tục")
    return flags


def _max_month_absence(
    db: DbSession, first: date, last: date, units: frozenset[int] | None
) -> dict[int, float]:
    v = ViolationRecord
    month = func.extract("year", v.day) * 100 + func.extract("month", v.day)
    per_month = (
        select(
            v.employee_id.label("e"),
            month.label("m"),
            func.sum(cast(v.minutes, Float) / DAY_MINUTES).label("days"),
        )
        .outerjoin(ReviewState, _reviewed())
        .where(v.kind == "absent", v.active.is_(True), v.day >= first, v.day <= last, _counted())
        .group_by(v.employee_id, month)
    )
    if units is not None:
        per_month = per_month.where(v.unit_id.in_(units))
    sub = per_month.subquery()
    rows = db.execute(select(sub.c.e, func.max(sub.c.days)).group_by(sub.c.e)).all()
    return {e: round(float(days), 2) for e, days in rows}


def _longest_absence(
    db: DbSession, first: date, last: date, units: frozenset[int] | None
) -> dict[int, int]:
    """The longest run of consecutive working days recorded absent (gaps and islands)."""
    working = select(
        DayRecord.employee_id.label("e"),
        DayRecord.status.label("status"),
        func.row_number()
        .over(partition_by=DayRecord.employee_id, order_by=DayRecord.day)
        .label("rn"),
        DayRecord.day.label("day"),
    ).where(DayRecord.day >= first, DayRecord.day <= last, DayRecord.status.in_(WORKING))
    if units is not None:
        working = working.where(DayRecord.unit_id.in_(units))
    w = working.subquery()
    absent = (
        select(
            w.c.e,
            (w.c.rn - func.row_number().over(partition_by=w.c.e, order_by=w.c.day)).label("grp"),
        )
        .where(w.c.status == "absent")
        .subquery()
    )
    runs = select(absent.c.e, func.count().label("n")).group_by(absent.c.e, absent.c.grp).subquery()
    rows = db.execute(select(runs.c.e, func.max(runs.c.n)).group_by(runs.c.e)).all()
    return {e: int(n) for e, n in rows}


def unit_lines(lines: list[Line], thresholds: Thresholds) -> list[Line]:
    """Roll people up into their units, ranked by violation rate (worst first)."""
    return unit_lines_of_rows([row_of(line) for line in lines], thresholds)


_COUNTS = tuple(LINE_FIELDS.index(name) for name in ("staff", *_SUMMED))
_FLOATS = frozenset(i for i in _COUNTS if isinstance(getattr(Line(0, ""), LINE_FIELDS[i]), float))


def unit_lines_of_rows(rows: list[Row], thresholds: Thresholds) -> list[Line]:
    """``unit_lines`` of people's rows: each figure summed a column at a time, in the people's
    order (floats added one by one from 0.0, as ``Line.add`` adds them)."""
    members: dict[int, list[Row]] = {}
    for row in rows:
        found = members.get(row[3])
        if found is None:
            members[row[3]] = [row]
        else:
            found.append(row)
    units = []
    for unit_id, people in members.items():
        columns = list(zip(*people, strict=True))
        unit = Line(key=unit_id, name=people[0][4], unit_id=unit_id, unit_name=people[0][4])
        for i in _COUNTS:
            total = reduce(add, columns[i], 0.0) if i in _FLOATS else sum(columns[i])
            setattr(unit, LINE_FIELDS[i], total)
        unit.flags = [f"{row[2]} {row[1]}: {'; '.join(row[-1])}" for row in people if row[-1]]
        units.append(unit)
    return sorted(units, key=lambda u: (-u.rate, u.name))


def total_line(units: list[Line]) -> Line:
    total = Line(key=0, name="Tổng cộng")
    for unit in units:
        total.add(unit)
    return total
