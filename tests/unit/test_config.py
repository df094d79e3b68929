"""Schedule, policy and calendar documents → the core's values."""

from __future__ import annotations

from datetime import date, time

import pytest
from pydantic import ValidationError

from rules.config import CalendarDoc, PolicyDoc, RulesDoc, ScheduleDoc


def test_defaults_are_the_domain_defaults() -> None:
    rules = RulesDoc()
    policy = rules.policy.value()
    assert (policy.late_grace_s, policy.early_grace_s, policy.absent_after_late_s) == (
        300,
        300,
        7200,
    )
    assert policy.double_tap_s == 120 and policy.punch_mode == "per_session"
    sessions = rules.schedule.value().sessions_on(date(2026, 11, 23))
    assert [(s.start, s.end) for s in sessions] == [
        (time(7, 30), time(11, 30)),
        (time(13, 0), time(17, 0)),
    ]


def test_a_rota_does_not_observe_holidays_by_default() -> None:
    doc = ScheduleDoc.model_validate(
        {
            "name": "Ca kíp",
            "rota": {
                "anchor": "2026-11-23",
                "days": [[{"name": "night", "start": "22:00", "end": "06:00"}], []],
            },
        }
    )
    schedule = doc.value()
    assert not schedule.observes_holidays
    assert schedule.sessions_on(date(2026, 11, 25))[0].crosses_midnight
    assert schedule.sessions_on(date(2026, 11, 24)) == ()


@pytest.mark.parametrize(
    "doc",
    [
        {"sessions": [], "rota": {"anchor": "2026-01-01", "days": [[]]}},  # two sources
        {},  # none
        {"seasons": [{"from": "02-30", "sessions": []}]},
        {"sessions": [{"name": "morning", "start": "25:00", "end": "11:00"}]},
        {"sessions": [], "weekdays": ["monday"]},
    ],
)
def test_bad_schedules_are_refused(doc: dict[str, object]) -> None:
    with pytest.raises((ValidationError, ValueError)):
        ScheduleDoc.model_validate(doc).value()


def test_policy_bounds() -> None:
    with pytest.raises(ValidationError):
        PolicyDoc(late_grace_minutes=-1)
    with pytest.raises(ValidationError):
        PolicyDoc.model_validate({"punch_mode": "sometimes"})


def test_calendar_overrides_add_swaps_and_remove_days() -> None:
    doc = CalendarDoc.model_validate(
        {
            "days_off": [{"date": "2026-12-31", "name": "Nghỉ theo quyết định"}],
            "working_days": [{"date": "2026-12-26"}],
            "not_days_off": ["2026-11-24"],
        }
    )
    calendar = doc.value(range(2026, 2027))
    assert calendar.holiday(date(2026, 12, 31)) == "Nghỉ theo quyết định"
    assert calendar.swapped_working_day(date(2026, 12, 26)) == "Làm bù"
    assert calendar.holiday(date(2026, 11, 24)) is None
    assert calendar.holiday(date(2026, 9, 2)) == "Quốc khánh"


def test_calendar_dates_may_be_written_as_people_write_them() -> None:
    doc = CalendarDoc.model_validate(
        {
            "days_off": [{"date": "31/12/2026", "name": "Nghỉ theo quyết định"}],
            "working_days": [{"date": "26.12.2026"}],
            "not_days_off": ["2026-11-24"],
        }
    )
    calendar = doc.value(range(2026, 2027))
    assert calendar.holiday(date(2026, 12, 31)) == "Nghỉ theo quyết định"
    assert calendar.swapped_working_day(date(2026, 12, 26)) == "Làm bù"
    with pytest.raises(ValidationError):
        CalendarDoc.model_validate({"days_off": [{"date": "31/02/2026"}]})
