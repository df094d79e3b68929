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

from rules.attribution import Burst, attribute, bursts, layout, pinned_bursts
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
# Which kind a session lands in when approved excuses overlap: leave of every kind before
# trips, training and meetings (as the peers let leave win over on-duty requests), so the
# day record and Nội vụ's phép/công tác columns never depend on the order rows were stored.
EXCUSE_PRECEDENCE: tuple[ExcuseKind, ...] = (
    "maternity",
    "sick_leave",
    "annual_leave",
    "personal_paid",
    "unpaid_leave",
    "compensatory_day",
    "business_trip",
    "training",
    "outside_meeting",
    "other",
)
ViolationKind = Literal["late", "early_leave", "absent", "missing_in", "missing_out"]
DayStatus = Literal[
    "present", "late", "absent", "on_leave", "holiday", "weekend", "off_shift", "pending"
]


Side = Literal["in", "out"]
SIDES: tuple[Side, ...] = ("in", "out")


@dataclass(frozen=True, slots=True)
class PunchFact:
    """A punch as the core sees it: an id for evidence and an instant (epoch seconds).

    ``direction`` is what the reader said (vào / ra), a hint kept as evidence: arrival and
    departure are read from the order of the punches (rules.attribution). ``session`` is set
    on a manual punch only, when the person said which session and which side (đề nghị bổ
    sung giờ chấm, "Quên chấm công ra (sáng)"): with ``direction`` "in" or "out" it is
    honoured, the punch is that session's arrival or departure and never the other side.
    """

    id: int
    at: int
    direction: str = "unknown"
    session: str | None = None


@dataclass(frozen=True, slots=True)
class Excuse:
    """Leave, a business trip, training… (lý do vắng mặt) for whole days or some sessions."""

    id: int
    kind: ExcuseKind
    first_day: date
    last_day: date
    sessions: frozenset[str] | None = None  # None: the whole day
    status: ExcuseStatus = "approved"

    @property
    def rank(self) -> tuple[int, int]:
        """Where two approved (or two pending) excuses cover a session, the lower rank wins."""
        return EXCUSE_PRECEDENCE.index(self.kind), self.id

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


def _choose(excuses: Sequence[Excuse], status: ExcuseStatus) -> list[Excuse]:
    return sorted((e for e in excuses if e.status == status), key=lambda e: e.rank)


def evaluate_day(
    plan: DayPlan,
    policy: Policy,
    punches: Sequence[PunchFact],
    excuses: Sequence[Excuse],
    now: datetime,
    complete_until: datetime | None = None,
) -> DayResult:
    """Judge one employee's date: day status, first in, last out, minutes worked, violations.

    ``punches`` are the person's punches from ``plan.reads_from`` to ``plan.reads_until``:
    the neighbouring dates' sessions take theirs (rules.attribution).
    """
    now_s = int(now.timestamp())
    complete = int(complete_until.timestamp()) if complete_until is not None else None
    if not plan.sessions:
        theirs = plan.before + plan.after  # neighbours' shifts reaching into this day off
        kept = collapse_double_taps(
            [p for p in punches if not any(s.contains(p.at) for s in theirs)]
            if theirs
            else punches,
            policy.double_tap_s,
        )
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
    after = plan.after
    closes = plan.sessions[-1].window_end if not after else plan.closes_at or 0
    judge = _Judge(now_s, complete, closes, policy.missing_punch == "flag")
    closed = now_s >= closes
    excused: list[tuple[str, ExcuseKind]] = []
    open_sessions: list[tuple[PlannedSession, list[Burst]]] = []
    offset = len(plan.before)
    shape = plan.layouts.get(policy.break_cut)
    if shape is None:
        shape = plan.layouts[policy.break_cut] = layout(plan.context, policy.break_cut)
    # A break between a session of this date on approved leave and one that is not: its
    # punches are the other one's (half a day of leave starts or ends at lunch).
    leave: dict[int, bool] | None = None
    if excuses and len(plan.sessions) > 1:
        off = [
            any(e.status == "approved" and e.covers(plan.day, s.name) for e in excuses)
            for s in plan.sessions
        ]
        leave = {offset + k: off[k] for k in range(len(off) - 1) if off[k] != off[k + 1]}
    window_s = max(policy.double_tap_s, policy.retap_s)
    said = [p for p in punches if p.session is not None]
    sides: dict[int, str] | None = None
    if said:
        found, pinned, sides = _place(plan.context, punches, said, window_s)
        attributed = attribute(
            shape,
            found,
            policy.early_grace_s,
            policy.late_grace_s,
            leave,
            pinned,
            policy.double_tap_s,
        )
    else:
        attributed = attribute(
            shape,
            bursts(punches, window_s),
            policy.early_grace_s,
            policy.late_grace_s,
            leave,
            double_tap_s=policy.double_tap_s,
        )
    mine = attributed[offset : offset + len(plan.sessions)] if offset or after else attributed
    if excuses:
        approved = _choose(excuses, "approved")
        pending = _choose(excuses, "pending")
        for session, found in zip(plan.sessions, mine, strict=True):
            cover = next((e for e in approved if e.covers(plan.day, session.name)), None)
            if cover is not None:
                excused.append((session.name, cover.kind))
                continue
            waiting = next((e for e in pending if e.covers(plan.day, session.name)), None)
            if waiting is not None:
                judge.pending[session.name] = waiting.id
            open_sessions.append((session, found))
    else:
        open_sessions = list(zip(plan.sessions, mine, strict=True))

    if policy.punch_mode == "per_day":
        worked = _per_day(
            open_sessions, [b for found in mine for b in found], policy, judge, closed, sides
        )
    else:
        worked = _per_session(open_sessions, policy, judge, closed, sides)

    day_bursts = [found for found in mine if found]  # the sessions that have punches
    first_in = day_bursts[0][0].first_at if day_bursts else None
    several = len(day_bursts) > 1 or (len(day_bursts) == 1 and len(day_bursts[0]) > 1)
    violations = tuple(judge.violations)
    absent_sessions = {v.session for v in violations if v.kind == "absent"}
    if len(excused) == len(plan.sessions):
        status: DayStatus = "on_leave"
    elif absent_sessions and all(s.name in absent_sessions for s, _ in open_sessions):
        status = "absent"
    elif any(v.kind == "late" for v in violations):
        status = "late"
    elif day_bursts:
        status = "present"
    else:
        status = "pending"
    return DayResult(
        plan.day,
        status,
        plan.label,
        first_in,
        day_bursts[-1][-1].last_at if several else None,
        worked,
        violations,
        tuple(excused),
        closed,
    )


def _place(
    context: Sequence[PlannedSession],
    punches: Sequence[PunchFact],
    said: Sequence[PunchFact],
    window_s: int,
) -> tuple[list[Burst], list[tuple[int, Burst]], dict[int, str]]:
    """Bursts of a day with manual punches whose person said the session and the side:
    each such punch, when a session of that name in ``context`` has a window that holds
    it (of several, the nearest), starts a burst pinned to that session with its side; any
    other stays unpinned (a schedule changed since, a side not said) and is read like a
    device's punch."""
    targets: dict[int, tuple[int, str]] = {}
    for punch in said:
        if punch.direction not in SIDES:
            continue
        t = punch.at
        # Of the sessions so named whose window holds it (a long shift's neighbours share a
        # name), the one whose scheduled span is nearest: the same whichever date is judged.
        near = [
            (max(s.start - t, t - s.end, 0), k)
            for k, s in enumerate(context)
            if s.name == punch.session and s.contains(t)
        ]
        if near:
            targets[punch.id] = (min(near)[1], punch.direction)
    found: list[Burst] = []
    pinned: list[tuple[int, Burst]] = []
    sides: dict[int, str] = {}
    for burst in (
        pinned_bursts(punches, window_s, targets) if targets else bursts(punches, window_s)
    ):
        target = targets.get(burst.first_id)
        if target is None:
            found.append(burst)
        else:
            pinned.append((target[0], burst))
            sides[burst.first_id] = target[1]
    return found, pinned, sides


def _said(
    found: list[Burst], arrival: Burst | None, departure: Burst | None, sides: dict[int, str]
) -> tuple[Burst | None, Burst | None]:
    """Arrival and departure where a person said a punch's side: an "out" is never the
    arrival and an "in" never the departure; a lone one is the side it was said to be."""
    first, last = found[0], found[-1]
    if len(found) == 1:
        side = sides.get(first.first_id)
        if side is None:
            return arrival, departure
        return (first, None) if side == "in" else (None, first)
    if sides.get(first.first_id) == "out":
        arrival = None
    side = sides.get(last.first_id)
    if side == "in":
        departure = None
    elif side == "out":
        departure = last
    return arrival, departure


def _judge_arrival(
    session: PlannedSession, at: int, pid: int, policy: Policy, judge: _Judge
) -> bool:
    """Late or, past the threshold, absent; returns True when it counts as absent."""
    late_s = at - session.start
    if late_s > policy.absent_after_late_s:
        judge.add("absent", session.name, session.minutes, (pid,), at)
        return True
    if late_s > policy.late_grace_s:
        judge.add("late", session.name, _ceil_minutes(late_s), (pid,), at)
    return False


def _judge_departure(
    session: PlannedSession, at: int, pid: int, policy: Policy, judge: _Judge
) -> None:
    early_s = session.end - at
    if early_s > policy.early_grace_s:
        judge.add("early_leave", session.name, _ceil_minutes(early_s), (pid,), judge.closes)


def _absent_if_due(session: PlannedSession, policy: Policy, judge: _Judge) -> None:
    deadline = session.start + policy.absent_after_late_s
    if judge.now >= deadline:
        judge.add("absent", session.name, session.minutes, (), deadline)


def _overlap_minutes(start: int, end: int, session: PlannedSession) -> int:
    return max(0, min(end, session.end) - max(start, session.start)) // 60


def _sides(found: list[Burst], midpoint: int) -> tuple[Burst | None, Burst | None]:
    """Arrival and departure: the first and last bursts; a lone one is an arrival before the
    midpoint and a departure after it (a retap is never a departure)."""
    if len(found) > 1:
        return found[0], found[-1]
    if found[0].first_at > midpoint:
        return None, found[0]
    return found[0], None


def _per_session(
    sessions: list[tuple[PlannedSession, list[Burst]]],
    policy: Policy,
    judge: _Judge,
    closed: bool,
    sides: dict[int, str] | None = None,
) -> int:
    worked = 0
    on_time_s = min(policy.late_grace_s, policy.absent_after_late_s)
    for session, found in sessions:
        if not found:
            _absent_if_due(session, policy, judge)
            continue
        arrival: Burst | None = found[0]
        departure: Burst | None = found[-1]
        if len(found) == 1:
            arrival, departure = _sides(found, session.midpoint)
        elif found[-1].first_at <= session.start:
            departure = None  # taps before a session starts are its arrival, repeated
        if sides:
            arrival, departure = _said(found, arrival, departure, sides)
        if (
            arrival is not None
            and arrival.first_at - session.start > on_time_s
            and _judge_arrival(session, arrival.first_at, arrival.first_id, policy, judge)
        ):
            continue  # so late it counts as absent: nothing more to judge
        if closed:
            if arrival is None and departure is not None:
                judge.add("missing_in", session.name, 0, (departure.last_id,), judge.closes)
            if departure is None and arrival is not None:
                judge.add("missing_out", session.name, 0, (arrival.first_id,), judge.closes)
            if departure is not None and session.end - departure.last_at > policy.early_grace_s:
                _judge_departure(session, departure.last_at, departure.last_id, policy, judge)
        if arrival is not None and departure is not None:
            start, end = arrival.first_at, departure.last_at  # clipped to the session
            start, end = max(start, session.start), min(end, session.end)
            if end > start:
                worked += (end - start) // 60
    return worked


def _per_day(
    open_sessions: list[tuple[PlannedSession, list[Burst]]],
    found: list[Burst],
    policy: Policy,
    judge: _Judge,
    closed: bool,
    sides: dict[int, str] | None = None,
) -> int:
    """First in / last out for the whole day; the lunch break is not punched."""
    if not open_sessions:
        return 0
    sessions = [s for s, _ in open_sessions]
    if not found:
        for session in sessions:
            _absent_if_due(session, policy, judge)
        return 0
    first_b, last_b = _sides(found, (sessions[0].start + sessions[-1].end) // 2)
    if last_b is not None and first_b is not None and last_b.first_at <= sessions[0].start:
        last_b = None  # taps before the day starts are its arrival, repeated
    if sides:
        first_b, last_b = _said(found, first_b, last_b, sides)
    # The arrival's session: the first one it is not too late for.
    arrived = 0
    if first_b is not None:
        first_at, first_id = first_b.first_at, first_b.first_id
        while (
            arrived < len(sessions) - 1
            and first_at - sessions[arrived].start > policy.absent_after_late_s
        ):
            judge.add(
                "absent", sessions[arrived].name, sessions[arrived].minutes, (first_id,), first_at
            )
            arrived += 1
        if _judge_arrival(sessions[arrived], first_at, first_id, policy, judge):
            arrived += 1
    elif closed and last_b is not None:
        judge.add("missing_in", sessions[0].name, 0, (last_b.last_id,), judge.closes)
    if last_b is None:
        if closed and first_b is not None and arrived < len(sessions):
            judge.add("missing_out", sessions[-1].name, 0, (first_b.first_id,), judge.closes)
        return 0
    last_at, last_id = last_b.last_at, last_b.last_id
    # The departure's session: the last one that started before it. Read from the burst's
    # first tap, like attribution, so a retap never moves a departure into the next session.
    left = max((i for i, s in enumerate(sessions) if s.start < last_b.first_at), default=-1)
    if closed:
        for session in sessions[max(left + 1, arrived) :]:
            judge.add("absent", session.name, session.minutes, (last_id,), judge.closes)
        if left >= arrived:
            _judge_departure(sessions[left], last_at, last_id, policy, judge)
    start = first_b.first_at if first_b is not None else sessions[0].start
    return sum(_overlap_minutes(start, last_at, s) for s in sessions[arrived : left + 1])
