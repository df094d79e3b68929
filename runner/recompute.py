"""Recompute (employee, date) keys: load their facts, run the pure core, write the difference.

Everything here is set-based: one query per kind of input for the whole batch of keys,
then one statement per kind of write. Recomputing a key twice writes nothing the second
time; a violation that disappears is withdrawn with its history, never deleted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, func, select, text, tuple_
from sqlalchemy.orm import Session as DbSession

from rules.calendar import DayPlan
from rules.evaluate import DayResult, Excuse, PunchFact, evaluate_day
from rules.reconcile import Change, StoredViolation, ViolationKey, reconcile
from runner.directory import Person, RulesDirectory
from store.bulk import among, bulk_insert, bulk_insert_logged, bulk_update, pg_array
from store.models import (
    Credential,
    DayRecord,
    Device,
    ExcuseRecord,
    ManualPunch,
    Punch,
    ViolationEvent,
    ViolationRecord,
)
from store.punches import credential_held
from store.queue import lock_keys
from store.rollups import MonthDeltas, count_day, count_violation, month_of
from store.rollups import refresh as refresh_person_months

if TYPE_CHECKING:
    from notify.violations import ViolationNotices

Key = tuple[int, date]
VIOLATIONS = cast(Table, ViolationRecord.__table__)
EVENTS = cast(Table, ViolationEvent.__table__)
DAY_RECORDS = cast(Table, DayRecord.__table__)
_COMPARED = (
    "unit_id",
    "status",
    "label",
    "first_in",
    "last_out",
    "worked_minutes",
    "excused",
    "closed",
)


@dataclass(slots=True)
class RecomputeStats:
    keys: int = 0
    detected: int = 0
    updated: int = 0
    withdrawn: int = 0
    restored: int = 0
    day_records: int = 0
    changed_keys: list[Key] = field(default_factory=list)
    # Every change as (employee id, date, change): what rules.effect.summarize reads.
    changes: list[tuple[int, date, Change]] = field(default_factory=list)

    def add(self, change: Change) -> None:
        setattr(self, change.action, getattr(self, change.action) + 1)


def _midnight(day: date, person: Person) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=person.tz).timestamp())


def _bounds(plan: DayPlan, person: Person) -> tuple[int, int]:
    """The punches that can change a date's result: its sessions' and their neighbours'."""
    if plan.reads_from is not None and plan.reads_until is not None:
        return plan.reads_from, plan.reads_until
    return _midnight(plan.day, person), _midnight(plan.day + timedelta(days=1), person) - 1


def _expand(keys: set[Key], people: dict[int, Person], directory: RulesDirectory) -> set[Key]:
    """Add the neighbouring dates that read punches of a date a trigger named (a night shift
    reaching into it, or sessions whose windows overlap across midnight)."""
    expanded = set()
    for employee_id, day in keys:
        person = people.get(employee_id)
        if person is None:
            continue
        expanded.add((employee_id, day))
        for other in directory.neighbours(person, day):
            expanded.add((employee_id, other))
    return expanded


def complete_until(db: DbSession) -> dict[int | None, datetime | None]:
    """Per agency, the instant up to which every enabled reader has reported (its high-water)."""
    mark = func.coalesce(Device.sent_up_to, Device.last_seen_at)
    rows = db.execute(
        select(Device.agency_id, func.min(mark))
        .where(Device.enabled.is_(True), mark.is_not(None))
        .group_by(Device.agency_id)
    ).all()
    return {agency_id: value for agency_id, value in rows}


def _marks_for(agency_id: int, marks: dict[int | None, datetime | None]) -> datetime | None:
    values = [v for v in (marks.get(agency_id), marks.get(None)) if v is not None]
    if not values:
        return None
    lowest = min(values)
    return lowest if lowest.tzinfo else lowest.replace(tzinfo=UTC)


def recompute(
    db: DbSession,
    keys: Iterable[Key],
    now: datetime,
    directory: RulesDirectory,
    trigger: str = "",
    *,
    write: bool = True,
    notices: ViolationNotices | None = None,
) -> RecomputeStats:
    """Recompute ``keys`` as of ``now`` inside the caller's transaction.

    With ``write=False`` nothing is locked or written: the changes are only returned in
    ``stats.changes`` (the preview of a recompute or of a rules file, services.effects).
    With ``notices``, the people's notices of what changed are queued in it too
    (notify/violations.py).
    """
    wanted = set(keys)
    stats = RecomputeStats()
    if not wanted:
        return stats
    people = directory.people(db, {e for e, _ in wanted})
    wanted = _expand(wanted, people, directory)
    if not wanted:
        return stats
    # Before any read: another runner holding one of these people commits first.
    if write:
        lock_keys(db, wanted)
    stats.keys = len(wanted)
    plans: dict[Key, DayPlan] = {}
    bounds: dict[Key, tuple[int, int]] = {}
    # A batch's keys share a few plans (directory.plan caches them, one per schedule, zone
    # and date): their windows are worked out once per plan, not once per key.
    plan_bounds: dict[int, tuple[int, int]] = {}
    for key in wanted:
        person = people[key[0]]
        plan = plans[key] = directory.plan(person, key[1])
        window = plan_bounds.get(id(plan))
        if window is None:
            window = plan_bounds[id(plan)] = _bounds(plan, person)
        bounds[key] = window
    employee_ids = sorted({e for e, _ in wanted})
    first_day, last_day = min(d for _, d in wanted), max(d for _, d in wanted)
    lo = datetime.fromtimestamp(min(b[0] for b in bounds.values()), UTC)
    hi = datetime.fromtimestamp(max(b[1] for b in bounds.values()), UTC)

    # On PostgreSQL the person-months move by differences (store.rollups.MonthDeltas), from
    # what the keys had before: their violations' units, records' excused days, reviews.
    months: MonthDeltas | None = None
    units: dict[Key, dict[ViolationKey, int]] = {}
    excused_before: dict[Key, tuple[str | None, float]] = {}
    decisions: dict[tuple[int, date, str, str], str] = {}
    if db.get_bind().dialect.name == "postgresql":
        # Each key's own window and rows, joined against arrays of the keys: one statement
        # per kind of input, whatever the spread of the batch's dates.
        punches = _pg_load_punches(db, bounds)
        excuses = _load_excuses(db, employee_ids, first_day, last_day)
        arrays = _key_arrays(wanted)
        stored, stored_ids, units = _pg_load_violations(db, arrays)
        records, excused_before = _pg_load_day_records(db, arrays)
        if write:
            months = MonthDeltas()
            decisions = _pg_load_decisions(db, arrays)
    else:
        punches = _load_punches(db, employee_ids, lo, hi)
        excuses = _load_excuses(db, employee_ids, first_day, last_day)
        stored, stored_ids = _load_violations(db, wanted, employee_ids, first_day, last_day)
        records = _load_day_records(db, wanted, employee_ids, first_day, last_day)
    _add_said_sessions(db, punches, employee_ids, lo, hi)
    marks = complete_until(db)
    agency_marks: dict[int, datetime | None] = {}

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    record_rows: list[dict[str, Any]] = []
    record_deletes: list[Key] = []
    flagged: list[tuple[int, date, str, str]] = []
    withdrawn: list[tuple[int, date, str, str]] = []
    counts = dict.fromkeys(("detected", "updated", "withdrawn", "restored"), 0)
    for key in sorted(wanted):
        employee_id, day = key
        person = people[employee_id]
        start, end = bounds[key]
        facts = [p for p in punches.get(employee_id, ()) if start <= p.at <= end]
        result: DayResult | None = None
        if person.active_on(day):
            if person.agency_id not in agency_marks:
                agency_marks[person.agency_id] = _marks_for(person.agency_id, marks)
            result = evaluate_day(
                plans[key],
                directory.policy(person),
                facts,
                excuses.get(employee_id, ()),
                now,
                agency_marks[person.agency_id],
            )
        before = stored.get(key)
        changes = reconcile(before or {}, result.violations if result else ())
        if changes:
            stats.changed_keys.append(key)
            for change in changes:
                counts[change.action] += 1
                stats.changes.append((employee_id, day, change))
            if write:
                ids = stored_ids.get(key, {})
                for change in changes:
                    _plan_write(
                        change,
                        key,
                        person,
                        now,
                        before.get(change.key) if before else None,
                        ids,
                        inserts,
                        updates,
                        events,
                        trigger,
                    )
                    if notices is not None:
                        identity = (employee_id, day, *change.key)
                        v = change.violation
                        if v is None:
                            withdrawn.append(identity)
                        elif notices.wants(
                            v.kind, day, v.provisional, now.astimezone(person.tz).date()
                        ):
                            flagged.append(identity)
        if not write:
            continue
        if result is None:
            if key in records:
                record_deletes.append(key)
            if months is not None and (key in records or changes):
                months.rewrite(employee_id, day.replace(day=1))
            continue
        row = _record_row(result, person, now, len(plans[key].sessions))
        changed = records.get(key) != _comparable(row)
        if changed:
            record_rows.append(row)
        if months is not None and (changed or changes):
            _month_changes(
                months,
                key,
                row,
                records.get(key),
                excused_before.get(key, _NOT_EXCUSED),
                before,
                changes,
                units.get(key, {}),
                decisions,
            )

    for action, count in counts.items():
        setattr(stats, action, getattr(stats, action) + count)
    if not write:
        return stats
    # New violations and their "detected" events in one statement.
    bulk_insert_logged(
        db,
        VIOLATIONS,
        inserts,
        EVENTS,
        "violation_id",
        ("minutes", "provisional"),
        {"at": now, "action": "detected", "trigger": trigger[:32]},
    )
    bulk_update(db, VIOLATIONS, "id", updates)
    bulk_insert(db, EVENTS, events)
    if record_rows:
        bulk_insert(db, DAY_RECORDS, record_rows, conflict=("update", ("employee_id", "day")))
        stats.day_records = len(record_rows)
    if record_deletes:
        db.execute(
            delete(DAY_RECORDS).where(
                tuple_(DAY_RECORDS.c.employee_id, DAY_RECORDS.c.day).in_(record_deletes)
            )
        )
    # The person-months above what changed, in the same transaction (held by lock_keys).
    if months is not None:
        months.write(db)
    else:
        touched = {*stats.changed_keys, *record_deletes}
        touched |= {(r["employee_id"], r["day"]) for r in record_rows}
        refresh_person_months(db, {(e, month_of(d)) for e, d in touched})
    if notices is not None:
        notices.record(db, flagged, withdrawn, now)
    return stats


_NOT_EXCUSED: tuple[str | None, float] = (None, 0.0)


def _month_changes(
    months: MonthDeltas,
    key: Key,
    row: dict[str, Any],
    record: tuple[Any, ...] | None,
    excused_before: tuple[str | None, float],
    before: dict[ViolationKey, StoredViolation] | None,
    changes: list[Change],
    units: dict[ViolationKey, int],
    decisions: dict[tuple[int, date, str, str], str],
) -> None:
    """What a key's new day record ``row`` and violation ``changes`` do to its person-month:
    differences of counts, or a rewrite of the month when they do not stay in one unit or
    its excused days change (their fractions are not whole numbers)."""
    employee_id, day = key
    month = day.replace(day=1)
    unit = row["unit_id"]
    if (
        (record is not None and record[0] != unit)
        or row["excused_fraction"] != excused_before[1]
        or row["excused_kind"] != excused_before[0]
        or (
            before
            and any(c.action != "detected" and units.get(c.key, unit) != unit for c in changes)
        )
    ):
        months.rewrite(employee_id, month)
        return
    total = months.total(employee_id, month, unit)
    if record is None:
        count_day(total, row["status"], 1)
    elif record[1] != row["status"]:
        count_day(total, record[1], -1)
        count_day(total, row["status"], 1)
    for change in changes:
        session, kind = change.key
        decision = decisions.get((employee_id, day, session, kind)) if decisions else None
        old = before.get(change.key) if before else None
        if old is not None and old.active:
            count_violation(total, kind, old.minutes, decision, -1, day)
        if change.violation is not None:
            count_violation(total, kind, change.violation.minutes, decision, 1, day)


def _plan_write(
    change: Change,
    key: Key,
    person: Person,
    now: datetime,
    old: StoredViolation | None,
    ids: dict[ViolationKey, int],
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    events: list[dict[str, Any]],
    trigger: str,
) -> None:
    session, kind = change.key
    v = change.violation
    if change.action == "detected":
        assert v is not None
        inserts.append(
            {
                "employee_id": key[0],
                "unit_id": person.unit_id,
                "day": key[1],
                "session": session,
                "kind": kind,
                "minutes": v.minutes,
                "evidence": _evidence(v.evidence),
                "provisional": v.provisional,
                "pending_excuse_id": v.pending_excuse,
                "active": True,
                "detected_at": now,
                "updated_at": now,
                "withdrawn_at": None,
            }
        )
        return
    vid = ids[change.key]
    if v is None:  # withdrawn: the content stays as it was last seen
        assert old is not None
        updates.append(
            {
                "id": vid,
                "minutes": old.minutes,
                "evidence": _evidence(old.evidence),
                "provisional": old.provisional,
                "pending_excuse_id": old.pending_excuse,
                "active": False,
                "updated_at": now,
                "withdrawn_at": now,
            }
        )
        events.append(_event(vid, "withdrawn", None, None, now, trigger))
        return
    updates.append(
        {
            "id": vid,
            "minutes": v.minutes,
            "evidence": _evidence(v.evidence),
            "provisional": v.provisional,
            "pending_excuse_id": v.pending_excuse,
            "active": True,
            "updated_at": now,
            "withdrawn_at": None,
        }
    )
    events.append(_event(vid, change.action, v.minutes, v.provisional, now, trigger))


def _evidence(punch_ids: tuple[int, ...]) -> str:
    """The evidence column: what ``json.dumps`` writes for a list of punch ids, at a fifth of
    its cost (three violations a key on a morning of late arrivals)."""
    return "[" + ", ".join(map(str, punch_ids)) + "]"


def _event(
    vid: int,
    action: str,
    minutes: int | None,
    provisional: bool | None,
    now: datetime,
    trigger: str,
) -> dict[str, Any]:
    return {
        "violation_id": vid,
        "at": now,
        "action": action,
        "minutes": minutes,
        "provisional": provisional,
        "trigger": trigger[:32],
    }


# Each key drives an index lookup (LATERAL ... OFFSET 0 keeps the planner from turning the
# batch into a scan of the whole table when its statistics lag behind a burst of inserts).
_PG_PUNCHES = text(
    "SELECT DISTINCT c.employee_id, p.id, extract(epoch FROM p.punched_at)::bigint, p.direction "
    "FROM (SELECT e, to_timestamp(lo) AS lo, to_timestamp(hi) AS hi"
    " FROM unnest(CAST(:e AS integer[]), CAST(:lo AS bigint[]), CAST(:hi AS bigint[]))"
    " AS u(e, lo, hi)) AS k "
    "CROSS JOIN LATERAL (SELECT employee_id, kind, value, valid_from, valid_to, device_id,"
    " group_id FROM credentials WHERE employee_id = k.e OFFSET 0) AS c "
    "CROSS JOIN LATERAL (SELECT q.id, q.punched_at, q.direction FROM punches q"
    " WHERE q.credential_kind = c.kind AND q.credential_value = c.value"
    " AND q.punched_at >= greatest(k.lo, c.valid_from) AND q.punched_at <= k.hi"
    " AND (c.valid_to IS NULL OR q.punched_at < c.valid_to)"
    # A card is valid on every reader, an enrolment number on its reader or group only.
    " AND ((c.device_id IS NULL AND c.group_id IS NULL) OR q.device_id = c.device_id"
    "  OR EXISTS (SELECT 1 FROM device_group_members m"
    "   WHERE m.group_id = c.group_id AND m.device_id = q.device_id)) OFFSET 0) AS p"
)
_PG_VIOLATIONS = text(
    "SELECT v.* FROM unnest(CAST(:e AS integer[]), CAST(:d AS date[])) AS k(e, d) "
    "CROSS JOIN LATERAL (SELECT id, employee_id, day, session, kind, minutes, evidence,"
    " provisional, pending_excuse_id, active, unit_id FROM violations"
    " WHERE employee_id = k.e AND day = k.d OFFSET 0) AS v"
)
_PG_DAY_RECORDS = text(
    "SELECT r.* FROM unnest(CAST(:e AS integer[]), CAST(:d AS date[])) AS k(e, d) "
    f"CROSS JOIN LATERAL (SELECT employee_id, day, {', '.join(_COMPARED)},"
    " excused_kind, excused_fraction FROM day_records"
    " WHERE employee_id = k.e AND day = k.d OFFSET 0) AS r"
)
_PG_DECISIONS = text(
    "SELECT s.* FROM unnest(CAST(:e AS integer[]), CAST(:d AS date[])) AS k(e, d) "
    "CROSS JOIN LATERAL (SELECT employee_id, day, session, kind, decision FROM review_state"
    " WHERE employee_id = k.e AND day = k.d OFFSET 0) AS s"
)


def _pg_load_punches(
    db: DbSession, bounds: dict[Key, tuple[int, int]]
) -> dict[int, list[PunchFact]]:
    keys = sorted(bounds)
    rows = db.execute(
        _PG_PUNCHES,
        {
            "e": pg_array(e for e, _ in keys),
            "lo": pg_array(bounds[k][0] for k in keys),
            "hi": pg_array(bounds[k][1] for k in keys),
        },
    ).all()
    punches: dict[int, list[PunchFact]] = defaultdict(list)
    for employee_id, punch_id, at, direction in rows:
        punches[employee_id].append(PunchFact(punch_id, at, direction))
    return punches


def _key_arrays(wanted: set[Key]) -> dict[str, str]:
    keys = sorted(wanted)
    return {"e": pg_array(e for e, _ in keys), "d": pg_array(d for _, d in keys)}


def _pg_load_violations(
    db: DbSession, arrays: dict[str, str]
) -> tuple[
    dict[Key, dict[ViolationKey, StoredViolation]],
    dict[Key, dict[ViolationKey, int]],
    dict[Key, dict[ViolationKey, int]],
]:
    """The keys' stored violations, their ids and their units."""
    stored: dict[Key, dict[ViolationKey, StoredViolation]] = defaultdict(dict)
    ids: dict[Key, dict[ViolationKey, int]] = defaultdict(dict)
    units: dict[Key, dict[ViolationKey, int]] = defaultdict(dict)
    for (
        vid,
        e,
        day,
        session,
        kind,
        minutes,
        evidence,
        provisional,
        pending,
        active,
        unit,
    ) in db.execute(_PG_VIOLATIONS, arrays).all():
        stored[(e, day)][(session, kind)] = StoredViolation(
            minutes, tuple(json.loads(evidence)), provisional, pending, active
        )
        ids[(e, day)][(session, kind)] = vid
        units[(e, day)][(session, kind)] = unit
    return stored, ids, units


def _pg_load_day_records(
    db: DbSession, arrays: dict[str, str]
) -> tuple[dict[Key, tuple[Any, ...]], dict[Key, tuple[str | None, float]]]:
    """The keys' stored day records (the compared columns) and their excused kind and share."""
    records: dict[Key, tuple[Any, ...]] = {}
    excused: dict[Key, tuple[str | None, float]] = {}
    for r in db.execute(_PG_DAY_RECORDS, arrays).all():
        records[(r[0], r[1])] = tuple(r[2:-2])
        excused[(r[0], r[1])] = (r[-2], r[-1])
    return records, excused


def _pg_load_decisions(
    db: DbSession, arrays: dict[str, str]
) -> dict[tuple[int, date, str, str], str]:
    """The current review decision of each violation identity of the keys."""
    return {(e, d, s, k): x for e, d, s, k, x in db.execute(_PG_DECISIONS, arrays).all()}


def _load_punches(
    db: DbSession, employee_ids: list[int], lo: datetime, hi: datetime
) -> dict[int, list[PunchFact]]:
    rows = db.execute(
        select(Credential.employee_id, Punch.id, Punch.punched_at, Punch.direction)
        .join(Credential, credential_held())
        .where(
            Credential.employee_id.in_(employee_ids), Punch.punched_at >= lo, Punch.punched_at <= hi
        )
    ).all()
    punches: dict[int, list[PunchFact]] = defaultdict(list)
    for employee_id, punch_id, at, direction in rows:
        punches[employee_id].append(PunchFact(punch_id, int(at.timestamp()), direction))
    return punches


def _add_said_sessions(
    db: DbSession,
    punches: dict[int, list[PunchFact]],
    employee_ids: list[int],
    lo: datetime,
    hi: datetime,
) -> None:
    """Give the manual punches whose person said the session (and, as the punch's
    direction, the side) that session, so the rules honour it; one query per batch, on the
    few manual punches there are."""
    said: dict[int, str | None] = {
        punch_id: session
        for punch_id, session in db.execute(
            select(ManualPunch.punch_id, ManualPunch.session).where(
                among(db, ManualPunch.employee_id, employee_ids),
                ManualPunch.session.is_not(None),
                ManualPunch.punched_at >= lo,
                ManualPunch.punched_at <= hi,
            )
        )
    }
    if not said:
        return
    for employee_id, facts in punches.items():
        punches[employee_id] = [
            replace(p, session=said[p.id]) if p.id in said else p for p in facts
        ]


def _load_excuses(
    db: DbSession, employee_ids: list[int], first: date, last: date
) -> dict[int, list[Excuse]]:
    x = ExcuseRecord
    rows = db.execute(
        select(x.employee_id, x.id, x.kind, x.first_day, x.last_day, x.sessions, x.status).where(
            among(db, x.employee_id, employee_ids),
            x.status != "cancelled",
            x.first_day <= last,
            x.last_day >= first,
        )
    )
    excuses: dict[int, list[Excuse]] = defaultdict(list)
    for employee_id, xid, kind, first_day, last_day, sessions, status in rows:
        chosen = frozenset(s for s in sessions.split(",") if s) if sessions else None
        excuses[employee_id].append(Excuse(xid, kind, first_day, last_day, chosen, status))  # type: ignore[arg-type]
    return excuses


def _load_violations(
    db: DbSession, wanted: set[Key], employee_ids: list[int], first: date, last: date
) -> tuple[dict[Key, dict[ViolationKey, StoredViolation]], dict[Key, dict[ViolationKey, int]]]:
    rows = db.execute(
        select(VIOLATIONS).where(
            VIOLATIONS.c.employee_id.in_(employee_ids),
            VIOLATIONS.c.day >= first,
            VIOLATIONS.c.day <= last,
        )
    ).all()
    stored: dict[Key, dict[ViolationKey, StoredViolation]] = defaultdict(dict)
    ids: dict[Key, dict[ViolationKey, int]] = defaultdict(dict)
    for row in rows:
        key = (row.employee_id, row.day)
        if key not in wanted:
            continue
        vkey = (row.session, row.kind)
        evidence = tuple(json.loads(row.evidence))
        stored[key][vkey] = StoredViolation(
            row.minutes, evidence, row.provisional, row.pending_excuse_id, row.active
        )
        ids[key][vkey] = row.id
    return stored, ids


def _load_day_records(
    db: DbSession, wanted: set[Key], employee_ids: list[int], first: date, last: date
) -> dict[Key, tuple[Any, ...]]:
    rows = (
        db.execute(
            select(DAY_RECORDS).where(
                DAY_RECORDS.c.employee_id.in_(employee_ids),
                DAY_RECORDS.c.day >= first,
                DAY_RECORDS.c.day <= last,
            )
        )
        .mappings()
        .all()
    )
    return {
        (r["employee_id"], r["day"]): _comparable(r)
        for r in rows
        if (r["employee_id"], r["day"]) in wanted
    }


_COMPARED_VALUES = itemgetter(*_COMPARED)


def _comparable(row: Any) -> tuple[Any, ...]:
    return _COMPARED_VALUES(row)  # type: ignore[no-any-return]


def _record_row(result: DayResult, person: Person, now: datetime, sessions: int) -> dict[str, Any]:
    return {
        "employee_id": person.employee_id,
        "day": result.day,
        "unit_id": person.unit_id,
        "status": result.status,
        "label": result.label,
        "first_in": datetime.fromtimestamp(result.first_in, UTC)
        if result.first_in is not None
        else None,
        "last_out": datetime.fromtimestamp(result.last_out, UTC)
        if result.last_out is not None
        else None,
        "worked_minutes": result.worked_minutes,
        "excused": ",".join(f"{s}:{k}" for s, k in result.excused) or None,
        "excused_kind": result.excused[0][1] if result.excused else None,
        "excused_fraction": len(result.excused) / sessions if sessions else 0.0,
        "closed": result.closed,
        "computed_at": now,
    }
