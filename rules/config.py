"""Configuration documents (JSON or TOML, already parsed) → the core's values.

Schedules, policies and calendar overrides are data an agency edits; pydantic validates
them here, at the edge of the core, and the core receives plain frozen values.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from rules.calendar import (
    WEEKDAYS,
    Calendar,
    Margins,
    Schedule,
    Season,
    SessionSpec,
    vietnam_calendar,
)
from rules.policy import Policy
from rules.zones import zone

_DAY_MONTH_YEAR = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")


def _local_date(value: object) -> object:
    """A date as people write it (31/12/2026, 31-12-2026, 31.12.2026) besides ISO and TOML's."""
    if isinstance(value, str) and (found := _DAY_MONTH_YEAR.match(value)):
        day, month, year = (int(part) for part in found.groups())
        try:
            return date(year, month, day)
        except ValueError:
            return value  # pydantic refuses it, naming the key
    return value


LocalDate = Annotated[date, BeforeValidator(_local_date)]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")

# The names the rules page prints ("Thứ Hai" … "Chủ nhật") and their short forms, compared
# without diacritics, case or spaces ("thứ 2", "T2", "CN").
_WEEKDAY_NAMES = {
    **{f"thu{word}": code for word, code in (("hai", "mon"), ("ba", "tue"), ("tu", "wed"))},
    **{f"thu{word}": code for word, code in (("nam", "thu"), ("sau", "fri"), ("bay", "sat"))},
    **{f"thu{n}": code for n, code in zip("234567", WEEKDAYS, strict=False)},
    **{f"t{n}": code for n, code in zip("234567", WEEKDAYS, strict=False)},
    "chunhat": "sun",
    "cn": "sun",
}


def _weekday(value: object) -> object:
    """A weekday's code, or its Vietnamese name turned into the code."""
    if not isinstance(value, str):
        return value
    key = unicodedata.normalize("NFD", value.strip().lower()).replace("đ", "d")
    key = re.sub(r"[\u0300-\u036f\s]", "", key)
    return _WEEKDAY_NAMES.get(key, value)


WeekdayName = Annotated[Weekday, BeforeValidator(_weekday)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionDoc(_Doc):
    name: str = Field(min_length=1, max_length=32, examples=["morning"])
    start: time
    end: time

    def value(self) -> SessionSpec:
        return SessionSpec(self.name, self.start, self.end)


class SeasonDoc(_Doc):
    starts: str = Field(alias="from", pattern=r"^\d{2}-\d{2}$", description="MM-DD")
    sessions: list[SessionDoc] = Field(min_length=1)

    @field_validator("starts")
    @classmethod
    def _a_real_day(cls, value: str) -> str:
        month, day = (int(p) for p in value.split("-"))
        try:
            date(2024, month, day)
        except ValueError:
            raise ValueError(f"ngày {value} không có thật (dạng MM-DD, ví dụ 04-15)") from None
        return value

    def value(self) -> Season:
        month, day = (int(p) for p in self.starts.split("-"))
        return Season((month, day), tuple(s.value() for s in self.sessions))


class RotaDoc(_Doc):
    """A cycle of days from ``anchor``; a day may have no session (a day off of the rota).

    ``observes_holidays`` may be written here as well as in ``[schedule]`` (where a rota's
    reader looks for it): whether the rota stops on public holidays and works làm bù days.
    """

    anchor: LocalDate
    days: list[list[SessionDoc]] = Field(min_length=1)
    observes_holidays: bool | None = None


class ScheduleDoc(_Doc):
    """A schedule (lịch làm việc): weekdays with sessions, by season, or a rota."""

    name: str = "Giờ hành chính"
    weekdays: list[WeekdayName] = Field(default_factory=lambda: list(WORKWEEK))
    sessions: list[SessionDoc] | None = Field(default=None, min_length=1)
    seasons: list[SeasonDoc] | None = Field(default=None, min_length=1)
    weekday_sessions: dict[
        Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[SessionDoc]
    ] = Field(default_factory=dict)
    rota: RotaDoc | None = None
    observes_holidays: bool | None = None

    @model_validator(mode="after")
    def _one_source_of_sessions(self) -> ScheduleDoc:
        sources = [self.sessions is not None, self.seasons is not None, self.rota is not None]
        if sum(sources) != 1:
            given = [
                n for n, on in zip(("sessions", "seasons", "rota"), sources, strict=True) if on
            ]
            raise ValueError(
                "cần đúng một trong: sessions, seasons, rota "
                f"(đang có: {', '.join(given) if given else 'không có khóa nào'})"
            )
        if (
            self.rota is not None
            and self.observes_holidays is not None
            and self.rota.observes_holidays is not None
            and self.observes_holidays != self.rota.observes_holidays
        ):
            raise ValueError(
                "observes_holidays có hai giá trị khác nhau ở [schedule] và [schedule.rota]; "
                "chỉ ghi ở một chỗ (true hoặc false)"
            )
        for where, day in self._days():
            names = [s.name for s in day]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                # A violation's identity is (person, date, session, kind): two sessions of one
                # day with one name would make two violations with the same identity.
                raise ValueError(
                    f"tên ca trùng nhau trong {where}: {', '.join(twice)} "
                    "(mỗi ca trong một ngày cần một tên riêng)"
                )
        return self

    def _days(self) -> list[tuple[str, list[SessionDoc]]]:
        days: list[tuple[str, list[SessionDoc]]] = []
        if self.sessions is not None:
            days.append(("sessions", self.sessions))
        for i, season in enumerate(self.seasons or []):
            days.append((f"seasons[{i}]", season.sessions))
        for weekday, sessions in self.weekday_sessions.items():
            days.append((f"weekday_sessions.{weekday}", sessions))
        for i, day in enumerate(self.rota.days if self.rota else []):
            days.append((f"rota.days[{i}]", day))
        return days

    def session_names(self) -> list[str]:
        """Every session name this schedule uses, in first-seen order."""
        seen: dict[str, None] = {}
        for _, day in self._days():
            for session in day:
                seen.setdefault(session.name, None)
        return list(seen)

    def value(self) -> Schedule:
        seasons: tuple[Season, ...] = ()
        if self.sessions is not None:
            seasons = (Season((1, 1), tuple(s.value() for s in self.sessions)),)
        elif self.seasons is not None:
            seasons = tuple(s.value() for s in self.seasons)
        rota: tuple[tuple[SessionSpec, ...], ...] = ()
        if self.rota is not None:
            rota = tuple(tuple(s.value() for s in day) for day in self.rota.days)
        observes = self.observes_holidays
        if observes is None and self.rota is not None:
            observes = self.rota.observes_holidays
        if observes is None:
            observes = not rota  # office hours stop on holidays; a rota runs through them
        return Schedule(
            name=self.name,
            weekdays=frozenset(WEEKDAYS.index(d) for d in self.weekdays),
            seasons=seasons,
            weekday_sessions=tuple(
                (WEEKDAYS.index(d), tuple(s.value() for s in sessions))
                for d, sessions in self.weekday_sessions.items()
            ),
            rota=rota,
            rota_anchor=self.rota.anchor if self.rota else None,
            observes_holidays=observes,
        )


class PolicyDoc(_Doc):
    """The policy (quy chế) in minutes, as people write it."""

    late_grace_minutes: int = Field(default=5, ge=0, le=240)
    early_grace_minutes: int = Field(default=5, ge=0, le=240)
    absent_after_late_minutes: int = Field(default=120, ge=1, le=24 * 60)
    punch_mode: Literal["per_session", "per_day"] = "per_session"
    double_tap_seconds: int = Field(default=120, ge=0, le=3600)
    missing_punch: Literal["flag", "ignore"] = "flag"
    early_arrival_margin_minutes: int = Field(default=120, ge=0, le=12 * 60)
    late_departure_margin_minutes: int = Field(default=240, ge=0, le=12 * 60)
    retap_minutes: int = Field(default=10, ge=0, le=120)
    break_cut: Literal["earlier_end", "middle", "later_start"] = "earlier_end"

    def value(self) -> Policy:
        return Policy(
            late_grace_s=self.late_grace_minutes * 60,
            early_grace_s=self.early_grace_minutes * 60,
            absent_after_late_s=self.absent_after_late_minutes * 60,
            punch_mode=self.punch_mode,
            double_tap_s=self.double_tap_seconds,
            missing_punch=self.missing_punch,
            retap_s=self.retap_minutes * 60,
            break_cut=self.break_cut,
            margins=Margins(
                self.early_arrival_margin_minutes * 60, self.late_departure_margin_minutes * 60
            ),
        )


class DatedDoc(_Doc):
    date: LocalDate
    name: str = ""


class CalendarDoc(_Doc):
    """The yearly overrides file: announced swaps and an agency's own days."""

    country_holidays: bool = True
    days_off: list[DatedDoc] = Field(default_factory=list)
    working_days: list[DatedDoc] = Field(default_factory=list)
    not_days_off: list[LocalDate] = Field(default_factory=list)

    def value(self, years: range) -> Calendar:
        extra_off = {d.date: d.name or "Ngày nghỉ" for d in self.days_off}
        extra_work = {d.date: d.name or "Làm bù" for d in self.working_days}
        if self.country_holidays:
            return vietnam_calendar(
                years,
                extra_days_off=extra_off,
                extra_working_days=extra_work,
                removed_days_off=self.not_days_off,
            )
        return Calendar(extra_off, extra_work)


DEFAULT_SESSIONS: list[SessionDoc] = [
    SessionDoc(name="morning", start=time(7, 30), end=time(11, 30)),
    SessionDoc(name="afternoon", start=time(13, 0), end=time(17, 0)),
]


class RulesDoc(_Doc):
    """A whole policy file for one agency (the offline replay's input)."""

    timezone: str = Field(default="Asia/Ho_Chi_Minh", examples=["Asia/Ho_Chi_Minh"])

    @field_validator("timezone")
    @classmethod
    def _a_known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except (ValueError, KeyError):
            raise ValueError(
                f"không có múi giờ {value!r}; chấp nhận tên múi giờ IANA, ví dụ Asia/Ho_Chi_Minh"
            ) from None
        return value

    schedule: ScheduleDoc = Field(default_factory=lambda: ScheduleDoc(sessions=DEFAULT_SESSIONS))
    policy: PolicyDoc = Field(default_factory=PolicyDoc)
    calendar: CalendarDoc = Field(default_factory=CalendarDoc)


SESSION_ALIASES: dict[str, str] = {"sang": "morning", "chieu": "afternoon", "dem": "night"}
SESSION_LABELS: dict[str, str] = {"morning": "sáng", "afternoon": "chiều", "night": "đêm"}


class SessionNameError(ValueError):
    """A session name the schedule does not have; the message lists the valid ones."""


def _plain(text: str) -> str:
    import unicodedata

    bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    words = "".join(c for c in bare if unicodedata.category(c) != "Mn").lower().split()
    if len(words) > 1 and words[0] in ("buoi", "ca"):
        words = words[1:]
    return " ".join(words)


def resolve_session_names(requested: list[str], known: list[str]) -> frozenset[str]:
    """Session names as people type them (the schedule's own, or sáng, chiều, đêm) → the
    schedule's names; an unknown name is refused with the valid names listed."""
    by_plain = {_plain(name): name for name in known}
    resolved: set[str] = set()
    for name in requested:
        if name in known:
            resolved.add(name)
            continue
        plain = _plain(name)
        match = by_plain.get(plain) or by_plain.get(SESSION_ALIASES.get(plain, ""))
        if match is None:
            valid = ", ".join(
                f"{n} ({SESSION_LABELS[n]})" if n in SESSION_LABELS else n for n in known
            )
            raise SessionNameError(f"Ca không hợp lệ: {name!r}; các ca của lịch làm việc: {valid}")
        resolved.add(match)
    return frozenset(resolved)
