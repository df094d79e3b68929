"""The pure core: ``evaluate_day`` judges one employee's date from facts, at an instant ``now``.

No clock, database, broker or settings inside. ``now`` decides what is knowable yet:
lateness at the first punch; absence once the session's deadline (start + the
absent-after-late threshold) has passed; early departure and missing punches once the day
closes. ``complete_until`` says up to when the readers have reported everything: a
violation that a late backlog could still disprove is provisional.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from rules.calendar import DayPlan, PlannedSession
from rules.policy import Policy

ExcuseKind = Literal[
    "annual_leave",
    "sick_leave",
    "maternity",
    "personal_paid",
    "unpaid_leave",
    "business_trip",
    "training",
    "outside_meeting",
    "compensatory_day",
    "other",
]
ExcuseStatus = Literal["approved", "pending"]
ViolationKind = Literal["late", "early_leave", "absent", "missing_in", "missing_out"]
DayStatus = Literal[
    "present", "late", "absent", "on_leave", "holiday", "weekend", "off_shift", "pending"
]


@dataclass(frozen=True, slots=True)
class PunchFact:
    """A punch as the core sees it: an id for evidence and an instant (epoch seconds)."""

    id: int
    at: int
    direction: str = "unknown"


@dataclass(frozen=True, slots=True)
class Excuse:
    """Leave, a business trip, training… (lý do vắng mặt) for whole days or some sessions."""

    id: int
    kind: ExcuseKind
    first_day: date
    last_day: date
    sessions: frozenset[str] | None = None  # None: the whole day
    status: ExcuseStatus = "approved"

    def covers(self, day: date, session: str) -> bool:
        return self.first_day <= day <= self.last_day and (
            self.sessions is None or session in self.sessions
        )


@dataclass(frozen=True, slots=True)
class Violation:
    """A breach of working hours; its identity is (employee, date, session, kind)."""

    kind: ViolationKind
    session: str
    minutes: int
    evidence: tuple[int, ...] = ()
    provisional: bool = False
    pending_excuse: int | None = None


@dataclass(frozen=True, slots=True)
class DayResult:
    """The day record (bảng chấm công of one person and date) and its violations."""

    day: date
    status: DayStatus
    label: str | None
    first_in: int | None
    last_out: int | None
    worked_minutes: int
    violations: tuple[Violation, ...]
    excused: tuple[tuple[str, ExcuseKind], ...]
    closed: bool


def collapse_double_taps(punches: Iterable[PunchFact], window_s: int) -> list[PunchFact]:
    """Repeated taps within ``window_s`` of the last kept punch are one punch (the first)."""
    kept: list[PunchFact] = []
    for punch in sorted(punches, key=lambda p: (p.at, p.id)):
        if not kept or punch.at - kept[-1].at > window_s:
            kept.append(punch)
    return kept


def _ceil_minutes(seconds: int) -> int:
    return -(-seconds // 60)


class _Judge:
    """Collects the violations of one day; a helper of ``evaluate_day``."""

    __slots__ = ("closes", "complete", "flag_missing", "now", "pending", "violations")

    def __init__(
        self, now: int, complete: int | None, closes: int, flag_missing: bool = True
    ) -> None:
        self.flag_missing = flag_missing
        self.now = now
        self.complete = complete
        self.closes = closes
        self.violations: list[Violation] = []
        self.pending: dict[str, int] = {}

    def add(
        self,
        kind: ViolationKind,
        session: str,
        minutes: int,
        evidence: tuple[int, ...],
        known_at: int,
    ) -> None:
        if kind in ("missing_in", "missing_out") and not self.flag_missing:
            return
        provisional = self.complete is not None and self.complete < known_at
        self.violations.append(
            Violation(kind, session, minutes, evidence, provisional, self.pending.get(session))
        )


def evaluate_day(
    plan: DayPlan,
    policy: Policy,
    punches: Sequence[PunchFact],
    excuses: Sequence[Excuse],
    now: datetime,
    complete_until: datetime | None = None,
) -> DayResult:
    """Judge one employee's date: day status, first in, last out, minutes worked, violations."""
    now_s = int(now.timestamp())
    complete = int(complete_until.timestamp()) if complete_until is not None else None
    kept = collapse_double_taps(punches, policy.double_tap_s)
    if not plan.sessions:
        return DayResult(
            plan.day,
            plan.kind if plan.kind != "working" else "off_shift",
            plan.label,
            kept[0].at if kept else None,
            kept[-1].at if len(kept) > 1 else None,
            0,
            (),
            (),
            True,
        )
    closes = plan.sessions[-1].window_end
    judge = _Judge(now_s, complete, closes, policy.missing_punch == "flag")
    closed = now_s >= closes
    excused: list[tuple[str, ExcuseKind]] = []
    open_sessions: list[PlannedSession] = []
    for session in plan.sessions:
        approved = next(
            (e for e in excuses if e.status == "approved" and e.covers(plan.day, session.name)),
            None,
        )
        if approved is not None:
            excused.append((session.name, approved.kind))
            continue
        pending = next(
            (e for e in excuses if e.status == "pending" and e.covers(plan.day, session.name)),
            None,
        )
        if pending is not None:
            judge.pending[session.name] = pending.id
        open_sessions.append(session)

    in_day = [p for p in kept if any(s.contains(p.at) for s in plan.sessions)]
    if policy.punch_mode == "per_day":
        worked = _per_day(open_sessions, in_day, policy, judge, closed)
    else:
        worked = _per_session(open_sessions, in_day, policy, judge, closed)

    violations = tuple(judge.violations)
    absent_sessions = {v.session for v in violations if v.kind == "absent"}
    if len(excused) == len(plan.sessions):
        status: DayStatus = "on_leave"
    elif absent_sessions and all(s.name in absent_sessions for s in open_sessions):
        status = "absent"
    elif any(v.kind == "late" for v in violations):
        status = "late"
    elif in_day:
        status = "present"
    else:
        status = "pending"
    return DayResult(
        plan.day,
        status,
        plan.label,
        in_day[0].at if in_day else None,
        in_day[-1].at if len(in_day) > 1 else None,
        worked,
        violations,
        tuple(excused),
        closed,
    )


def _judge_arrival(
    session: PlannedSession, arrival: PunchFact, policy: Policy, judge: _Judge
) -> bool:
    """Late or, past the threshold, absent; returns True when it counts as absent."""
    late_s = arrival.at - session.start
    if late_s > policy.absent_after_late_s:
        judge.add("absent", session.name, session.minutes, (arrival.id,), arrival.at)
        return True
    if late_s > policy.late_grace_s:
        judge.add("late", session.name, _ceil_minutes(late_s), (arrival.id,), arrival.at)
    return False


def _judge_departure(
    session: PlannedSession, departure: PunchFact, policy: Policy, judge: _Judge
) -> None:
    early_s = session.end - departure.at
    if early_s > policy.early_grace_s:
        judge.add(
            "early_leave", session.name, _ceil_minutes(early_s), (departure.id,), judge.closes
        )


def _absent_if_due(session: PlannedSession, policy: Policy, judge: _Judge) -> None:
    deadline = session.start + policy.absent_after_late_s
    if judge.now >= deadline:
        judge.add("absent", session.name, session.minutes, (), deadline)


def _overlap_minutes(start: int, end: int, session: PlannedSession) -> int:
    return max(0, min(end, session.end) - max(start, session.start)) // 60


def _per_session(
    sessions: list[PlannedSession],
    punches: list[PunchFact],
    policy: Policy,
    judge: _Judge,
    closed: bool,
) -> int:
    worked = 0
    for session in sessions:
        mine = [p for p in punches if session.contains(p.at)]
        if not mine:
            _absent_if_due(session, policy, judge)
            continue
        arrival: PunchFact | None = mine[0]
        departure: PunchFact | None = mine[-1] if len(mine) > 1 else None
        if departure is None and mine[0].at > (session.start + session.end) // 2:
            arrival, departure = None, mine[0]
        if arrival is not None and _judge_arrival(session, arrival, policy, judge):
            continue  # so late it counts as absent: nothing more to judge
        if closed:
            if arrival is None and departure is not None:
                judge.add("missing_in", session.name, 0, (departure.id,), judge.closes)
            if departure is None and arrival is not None:
                judge.add("missing_out", session.name, 0, (arrival.id,), judge.closes)
            if departure is not None:
                _judge_departure(session, departure, policy, judge)
        if arrival is not None and departure is not None:
            worked += _overlap_minutes(arrival.at, departure.at, session)
    return worked


def _per_day(
    sessions: list[PlannedSession],
    punches: list[PunchFact],
    policy: Policy,
    judge: _Judge,
    closed: bool,
) -> int:
    """First in / last out for the whole day; the lunch break is not punched."""
    if not sessions:
        return 0
    if not punches:
        for session in sessions:
            _absent_if_due(session, policy, judge)
        return 0
    first: PunchFact | None = punches[0]
    last: PunchFact | None = punches[-1] if len(punches) > 1 else None
    if last is None and punches[0].at > (sessions[0].start + sessions[-1].end) // 2:
        first, last = None, punches[0]
    # The arrival's session: the first one it is not too late for.
    arrived = 0
    if first is not None:
        while (
            arrived < len(sessions) - 1
            and first.at - sessions[arrived].start > policy.absent_after_late_s
        ):
            judge.add(
                "absent", sessions[arrived].name, sessions[arrived].minutes, (first.id,), first.at
            )
            arrived += 1
        if _judge_arrival(sessions[arrived], first, policy, judge):
            arrived += 1
    elif closed:
        judge.add("missing_in", sessions[0].name, 0, (punches[0].id,), judge.closes)
    if last is None:
        if closed and first is not None and arrived < len(sessions):
            judge.add("missing_out", sessions[-1].name, 0, (first.id,), judge.closes)
        return 0
    # The departure's session: the last one that started before it.
    left = max((i for i, s in enumerate(sessions) if s.start < last.at), default=-1)
    if closed:
        for session in sessions[max(left + 1, arrived) :]:
            judge.add("absent", session.name, session.minutes, (last.id,), judge.closes)
        if left >= arrived:
            _judge_departure(sessions[left], last, policy, judge)
    start = first.at if first is not None else sessions[0].start
    return sum(_overlap_minutes(start, last.at, s) for s in sessions[arrived : left + 1])
