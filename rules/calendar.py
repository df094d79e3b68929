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
from typing import Literal
from zoneinfo import ZoneInfo

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


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """One session on one date, as instants (epoch seconds) in the agency's zone.

    ``window_start``/``window_end`` bound the punches that belong to it, both inclusive
    (``window_start`` is exclusive when it is the cut after an earlier session).
    """

    name: str
    start: int
    end: int
    window_start: int
    window_end: int
    window_start_exclusive: bool = False

    def contains(self, t: int) -> bool:
        if self.window_start_exclusive:
            return self.window_start < t <= self.window_end
        return self.window_start <= t <= self.window_end

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // 60


@dataclass(frozen=True, slots=True)
class Margins:
    """How far before a session's start and after its end a punch still belongs to it."""

    early_arrival_s: int = 120 * 60
    late_departure_s: int = 240 * 60


@dataclass(frozen=True, slots=True)
class DayPlan:
    """What one date is for one schedule: its kind, label and concrete sessions."""

    day: date
    kind: DayKind
    label: str | None
    sessions: tuple[PlannedSession, ...]

    @property
    def window_start(self) -> int | None:
        return self.sessions[0].window_start if self.sessions else None

    @property
    def window_end(self) -> int | None:
        return self.sessions[-1].window_end if self.sessions else None

    @property
    def closes_at(self) -> int | None:
        """When the day is closed: no later punch can belong to it."""
        return self.window_end


def _raw_sessions(
    schedule: Schedule, calendar: Calendar, day: date
) -> tuple[DayKind, str | None, tuple[SessionSpec, ...]]:
    if schedule.observes_holidays:
        holiday = calendar.holiday(day)
        if holiday is not None:
            return "holiday", holiday, ()
        swapped = calendar.swapped_working_day(day)
        if swapped is not None:
            # A làm bù Saturday works like the weekday it stands for: the usual sessions.
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


def plan_day(
    schedule: Schedule,
    calendar: Calendar,
    day: date,
    tz: ZoneInfo,
    margins: Margins = Margins(),
) -> DayPlan:
    """The concrete sessions of ``day`` with their punch windows.

    Where two sessions' windows overlap (lunch break, back-to-back shifts, a night shift
    and the next morning), they are cut at the middle of the gap between the earlier end
    and the later start; a punch on the cut belongs to the earlier session. With no gap
    (shifts that touch) this is the earlier session's scheduled end.
    """
    kind, label, specs = _raw_sessions(schedule, calendar, day)
    if not specs:
        return DayPlan(day, kind, label, ())
    spans = sorted((_instants(day, s, tz), s.name) for s in specs)
    windows = [
        [start - margins.early_arrival_s, end + margins.late_departure_s, False]
        for (start, end), _ in spans
    ]
    for i in range(len(spans) - 1):
        (_, earlier_end), (later_start, _) = spans[i][0], spans[i + 1][0]
        if windows[i][1] >= windows[i + 1][0]:
            cut = earlier_end + max(0, later_start - earlier_end) // 2
            windows[i][1], windows[i + 1][0], windows[i + 1][2] = cut, cut, True
    # The neighbouring days' sessions cut this day's outer windows the same way.
    for neighbour, first in ((day - timedelta(days=1), True), (day + timedelta(days=1), False)):
        _, _, other = _raw_sessions(schedule, calendar, neighbour)
        if not other:
            continue
        other_spans = sorted(_instants(neighbour, s, tz) for s in other)
        if first:
            prev_end = other_spans[-1][1]
            prev_window_end = prev_end + margins.late_departure_s
            start = spans[0][0][0]
            if prev_window_end >= windows[0][0] and prev_end <= start:
                windows[0][0], windows[0][2] = prev_end + (start - prev_end) // 2, True
        else:
            next_start = other_spans[0][0]
            end = spans[-1][0][1]
            if next_start - margins.early_arrival_s <= windows[-1][1] and end <= next_start:
                windows[-1][1] = end + (next_start - end) // 2
    sessions = tuple(
        PlannedSession(name, start, end, int(w[0]), int(w[1]), bool(w[2]))
        for ((start, end), name), w in zip(spans, windows, strict=True)
    )
    return DayPlan(day, kind, label, sessions)
