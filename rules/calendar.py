"""The working calendar (lịch làm việc): schedules, sessions, public holidays, swapped days.

Pure: a schedule and a calendar are values; ``plan_day`` turns them into the concrete
sessions of one date in one zone. Public holidays come from the ``holidays`` package
(lunar dates and announced substitutions included) plus an agency's yearly overrides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from rules.attribution import Layout

DayKind = Literal["working", "weekend", "holiday", "off_shift"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """A working session (ca làm việc), e.g. 07:30–11:30; ``end <= start`` crosses midnight."""

    name: str
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class Season:
    """Sessions in force from ``starts`` (month, day) until the next season starts."""

    starts: tuple[int, int]
    sessions: tuple[SessionSpec, ...]


@dataclass(frozen=True, slots=True)
class Schedule:
    """When someone works: weekdays and sessions, by season, or a rota of days.

    ``weekday_sessions`` overrides the sessions of one weekday (a one-stop-shop desk open
    Saturday morning). A ``rota`` repeats a cycle of days from ``rota_anchor`` (hospital
    shifts); an empty day of the cycle is off.
    """

    name: str
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    seasons: tuple[Season, ...] = ()
    weekday_sessions: tuple[tuple[int, tuple[SessionSpec, ...]], ...] = ()
    rota: tuple[tuple[SessionSpec, ...], ...] = ()
    rota_anchor: date | None = None
    observes_holidays: bool = True

    def sessions_on(self, day: date) -> tuple[SessionSpec, ...]:
        """The sessions this schedule has on ``day``, before holidays are considered."""
        if self.rota:
            anchor = self.rota_anchor or date(2000, 1, 3)
            return self.rota[(day - anchor).days % len(self.rota)]
        weekday = day.weekday()
        for wd, sessions in self.weekday_sessions:
            if wd == weekday:
                return sessions
        return self.season_sessions(day)

    def season_sessions(self, day: date) -> tuple[SessionSpec, ...]:
        if not self.seasons:
            return ()
        key = (day.month, day.day)
        ordered = sorted(self.seasons, key=lambda s: s.starts)
        current = ordered[-1]  # before the first start of the year: last year's last season
        for season in ordered:
            if season.starts <= key:
                current = season
        return current.sessions

    def works_on_weekday(self, day: date) -> bool:
        if self.rota:
            return bool(self.sessions_on(day))
        return day.weekday() in self.weekdays or any(
            wd == day.weekday() for wd, _ in self.weekday_sessions
        )


def office_hours(
    morning: tuple[str, str] = ("07:30", "11:30"), afternoon: tuple[str, str] = ("13:00", "17:00")
) -> Schedule:
    """Administrative hours (giờ hành chính), Monday to Friday, all year."""
    return Schedule(
        name="Giờ hành chính",
        seasons=(
            Season(
                (1, 1),
                (
                    SessionSpec("morning", parse_time(morning[0]), parse_time(morning[1])),
                    SessionSpec("afternoon", parse_time(afternoon[0]), parse_time(afternoon[1])),
                ),
            ),
        ),
    )


def parse_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class Calendar:
    """Days off (holidays, nghỉ bù, the agency's own) and swapped working days (làm bù)."""

    days_off: Mapping[date, str] = field(default_factory=lambda: MappingProxyType({}))
    working_days: Mapping[date, str] = field(default_factory=lambda: MappingProxyType({}))

    def holiday(self, day: date) -> str | None:
        return self.days_off.get(day)

    def swapped_working_day(self, day: date) -> str | None:
        return self.working_days.get(day)


def vietnam_calendar(
    years: Iterable[int],
    *,
    extra_days_off: Mapping[date, str] | None = None,
    extra_working_days: Mapping[date, str] | None = None,
    removed_days_off: Iterable[date] = (),
) -> Calendar:
    """Vietnamese public holidays (Bộ luật Lao động Điều 112) for ``years``, with overrides.

    The ``holidays`` package knows the lunar dates, the compensatory days and the swaps it
    has been told of; an agency's overrides file adds what was announced since.
    """
    import holidays

    years = sorted(set(years))
    official = holidays.country_holidays("VN", years=years, language="vi")
    days_off = {d: str(name) for d, name in official.items()}
    working = {d: "Làm bù" for d in official.weekend_workdays if d.year in years}
    for day in removed_days_off:
        days_off.pop(day, None)
    days_off.update(extra_days_off or {})
    working.update(extra_working_days or {})
    for day in days_off:
        working.pop(day, None)
    return Calendar(MappingProxyType(days_off), MappingProxyType(working))


def calendar_with(overrides: Iterable[tuple[date, str, str]], years: Iterable[int]) -> Calendar:
    """The national calendar of ``years`` with an agency's overrides: ``(day, kind, name)``
    rows where kind is "off" (a day off), "work" (a làm bù working day) or "not_off" (a
    national holiday that does not apply)."""
    rows = list(overrides)
    return vietnam_calendar(
        years,
        extra_days_off={d: n or "Ngày nghỉ" for d, k, n in rows if k == "off"},
        extra_working_days={d: n or "Làm bù" for d, k, n in rows if k == "work"},
        removed_days_off=[d for d, k, _ in rows if k == "not_off"],
    )


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """One session on one date, as instants (epoch seconds) in the agency's zone.

    ``window_start``/``window_end`` (both inclusive) bound the punches that may belong to
    it: its start minus the early-arrival margin, its end plus the late-departure margin.
    Where two sessions' windows overlap, ``rules.attribution`` decides which one a punch is.
    """

    name: str
    start: int
    end: int
    window_start: int
    window_end: int

    def contains(self, t: int) -> bool:
        return self.window_start <= t <= self.window_end

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // 60

    @property
    def midpoint(self) -> int:
        return (self.start + self.end) // 2


@dataclass(frozen=True, slots=True)
class Margins:
    """How far before a session's start and after its end a punch still belongs to it."""

    early_arrival_s: int = 120 * 60
    late_departure_s: int = 240 * 60


@dataclass(frozen=True, slots=True)
class DayPlan:
    """What one date is for one schedule: its kind, label and concrete sessions.

    ``before`` and ``after`` are the neighbouring dates' sessions whose windows reach this
    date's (a night shift next to a morning): punches are attributed across all of them,
    so a punch belongs to one session whichever date is evaluated.
    """

    day: date
    kind: DayKind
    label: str | None
    sessions: tuple[PlannedSession, ...]
    before: tuple[PlannedSession, ...] = ()
    after: tuple[PlannedSession, ...] = ()
    # How the context shares time, per break cut: computed once per plan (rules.attribution).
    layouts: dict[str, Layout] = field(default_factory=dict, compare=False, repr=False)

    @property
    def window_start(self) -> int | None:
        return self.sessions[0].window_start if self.sessions else None

    @property
    def window_end(self) -> int | None:
        return self.sessions[-1].window_end if self.sessions else None

    @property
    def closes_at(self) -> int | None:
        """When the day is closed: no later punch can belong to it (the next date's first
        session takes the punches after the cut or the break)."""
        if not self.sessions:
            return None
        last = self.sessions[-1]
        if self.after and last.window_end >= self.after[0].window_start:
            following = self.after[0]
            if last.end > following.start:
                return last.end
            return min(last.window_end, following.start)
        return last.window_end

    @property
    def reads_from(self) -> int | None:
        """The earliest punch that can change this date's result (neighbours included);
        None for a date without sessions (its punches are those of its calendar day)."""
        if not self.sessions:
            return None
        return (self.before[0] if self.before else self.sessions[0]).window_start

    @property
    def reads_until(self) -> int | None:
        if not self.sessions:
            return None
        return (self.after[-1] if self.after else self.sessions[-1]).window_end

    @property
    def context(self) -> tuple[PlannedSession, ...]:
        """Every session punches are attributed across, in time order."""
        return self.before + self.sessions + self.after


def _raw_sessions(
    schedule: Schedule, calendar: Calendar, day: date
) -> tuple[DayKind, str | None, tuple[SessionSpec, ...]]:
    if schedule.observes_holidays:
        holiday = calendar.holiday(day)
        if holiday is not None:
            return "holiday", holiday, ()
        swapped = calendar.swapped_working_day(day)
        if swapped is not None:
            # A làm bù Saturday works like the weekday it stands for: the usual sessions;
            # a rota works its own cycle that day (its shift is not lost to the weekend rule).
            if schedule.rota:
                sessions = schedule.sessions_on(day)
                return ("working", swapped, sessions) if sessions else ("off_shift", None, ())
            return "working", swapped, schedule.season_sessions(day)
    if not schedule.works_on_weekday(day):
        return ("off_shift" if schedule.rota else "weekend"), None, ()
    sessions = schedule.sessions_on(day)
    if not sessions:
        return "off_shift", None, ()
    return "working", None, sessions


def _instants(day: date, spec: SessionSpec, tz: ZoneInfo) -> tuple[int, int]:
    start = datetime.combine(day, spec.start, tzinfo=tz)
    end_day = day + timedelta(days=1) if spec.crosses_midnight else day
    end = datetime.combine(end_day, spec.end, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def _planned(
    schedule: Schedule, calendar: Calendar, day: date, tz: ZoneInfo, margins: Margins
) -> tuple[DayKind, str | None, list[PlannedSession]]:
    kind, label, specs = _raw_sessions(schedule, calendar, day)
    spans = sorted((*_instants(day, s, tz), s.name) for s in specs)
    return (
        kind,
        label,
        [
            PlannedSession(
                name, start, end, start - margins.early_arrival_s, end + margins.late_departure_s
            )
            for start, end, name in spans
        ],
    )


def _overlap(earlier: PlannedSession, later: PlannedSession) -> bool:
    return earlier.window_end >= later.window_start


def plan_day(
    schedule: Schedule,
    calendar: Calendar,
    day: date,
    tz: ZoneInfo,
    margins: Margins = Margins(),
) -> DayPlan:
    """The concrete sessions of ``day`` with their punch windows, and the neighbours' sessions
    whose windows overlap them (two on each side: the second bounds the first's own range)."""
    kind, label, own = _planned(schedule, calendar, day, tz, margins)
    one = timedelta(days=1)
    if not own:
        # A day off still knows the neighbours' shifts reaching into it: their punches
        # (a night shift's departure) are not this day's.
        midnight = int(datetime.combine(day, time(0), tzinfo=tz).timestamp())
        next_midnight = int(datetime.combine(day + one, time(0), tzinfo=tz).timestamp())
        prev = _planned(schedule, calendar, day - one, tz, margins)[2][-1:]
        nxt = _planned(schedule, calendar, day + one, tz, margins)[2][:1]
        return DayPlan(
            day,
            kind,
            label,
            (),
            tuple(s for s in prev if s.window_end >= midnight),
            tuple(s for s in nxt if s.window_start < next_midnight),
        )
    before: list[PlannedSession] = []
    prev = _planned(schedule, calendar, day - one, tz, margins)[2]
    if prev and _overlap(prev[-1], own[0]):
        earlier = prev[:-1] or _planned(schedule, calendar, day - 2 * one, tz, margins)[2][-1:]
        before = [*([earlier[-1]] if earlier and _overlap(earlier[-1], prev[-1]) else []), prev[-1]]
    after: list[PlannedSession] = []
    nxt = _planned(schedule, calendar, day + one, tz, margins)[2]
    if nxt and _overlap(own[-1], nxt[0]):
        later = nxt[1:] or _planned(schedule, calendar, day + 2 * one, tz, margins)[2][:1]
        after = [nxt[0], *([later[0]] if later and _overlap(nxt[0], later[0]) else [])]
    return DayPlan(day, kind, label, tuple(own), tuple(before), tuple(after))
