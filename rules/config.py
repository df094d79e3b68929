"""Configuration documents (JSON or TOML, already parsed) → the core's values.

Schedules, policies and calendar overrides are data an agency edits; pydantic validates
them here, at the edge of the core, and the core receives plain frozen values.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionDoc(_Doc):
    name: str = Field(min_length=1, max_length=32)
    start: time
    end: time

    def value(self) -> SessionSpec:
        return SessionSpec(self.name, self.start, self.end)


class SeasonDoc(_Doc):
    starts: str = Field(alias="from", pattern=r"^\d{2}-\d{2}$", description="MM-DD")
    sessions: list[SessionDoc]

    def value(self) -> Season:
        month, day = (int(p) for p in self.starts.split("-"))
        date(2024, month, day)  # raises on 02-30
        return Season((month, day), tuple(s.value() for s in self.sessions))


class RotaDoc(_Doc):
    anchor: date
    days: list[list[SessionDoc]] = Field(min_length=1)


class ScheduleDoc(_Doc):
    """A schedule (lịch làm việc): weekdays with sessions, by season, or a rota."""

    name: str = "Giờ hành chính"
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK))
    sessions: list[SessionDoc] | None = None
    seasons: list[SeasonDoc] | None = None
    weekday_sessions: dict[
        Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[SessionDoc]
    ] = Field(default_factory=dict)
    rota: RotaDoc | None = None
    observes_holidays: bool | None = None

    @model_validator(mode="after")
    def _one_source_of_sessions(self) -> ScheduleDoc:
        sources = [self.sessions is not None, self.seasons is not None, self.rota is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of sessions, seasons or rota")
        return self

    def value(self) -> Schedule:
        seasons: tuple[Season, ...] = ()
        if self.sessions is not None:
            seasons = (Season((1, 1), tuple(s.value() for s in self.sessions)),)
        elif self.seasons is not None:
            seasons = tuple(s.value() for s in self.seasons)
        rota: tuple[tuple[SessionSpec, ...], ...] = ()
        if self.rota is not None:
            rota = tuple(tuple(s.value() for s in day) for day in self.rota.days)
        observes = self.observes_holidays if self.observes_holidays is not None else not rota
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

    def value(self) -> Policy:
        return Policy(
            late_grace_s=self.late_grace_minutes * 60,
            early_grace_s=self.early_grace_minutes * 60,
            absent_after_late_s=self.absent_after_late_minutes * 60,
            punch_mode=self.punch_mode,
            double_tap_s=self.double_tap_seconds,
            missing_punch=self.missing_punch,
            margins=Margins(
                self.early_arrival_margin_minutes * 60, self.late_departure_margin_minutes * 60
            ),
        )


class DatedDoc(_Doc):
    date: date
    name: str = ""


class CalendarDoc(_Doc):
    """The yearly overrides file: announced swaps and an agency's own days."""

    country_holidays: bool = True
    days_off: list[DatedDoc] = Field(default_factory=list)
    working_days: list[DatedDoc] = Field(default_factory=list)
    not_days_off: list[date] = Field(default_factory=list)

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

    timezone: str = "Asia/Ho_Chi_Minh"
    schedule: ScheduleDoc = Field(default_factory=lambda: ScheduleDoc(sessions=DEFAULT_SESSIONS))
    policy: PolicyDoc = Field(default_factory=PolicyDoc)
    calendar: CalendarDoc = Field(default_factory=CalendarDoc)
