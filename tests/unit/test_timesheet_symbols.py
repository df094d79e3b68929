"""Bảng chấm công cells: the symbols and shares of a day, half days included."""

from __future__ import annotations

from datetime import date

from services.documents.timesheet import Symbols, day_parts
from store.timesheets import DayMark

DAY = date(2026, 11, 2)
S = Symbols()


def parts(mark: DayMark) -> list[tuple[str, float]]:
    return [(symbol.code, share) for symbol, share in day_parts(mark, S)]


def mark(status: str, **kw: object) -> DayMark:
    base: dict[str, object] = {
        "excused": (),
        "absence_review": None,
        "absence_reason": None,
        "absent_share": 0.0,
    }
    base.update(kw)
    return DayMark(DAY, status, None, **base)  # type: ignore[arg-type]


def test_a_morning_of_leave_and_an_afternoon_worked_split_the_day() -> None:
    assert parts(mark("present", excused=(("morning", "annual_leave"),))) == [
        ("+", 0.5),
        ("P", 0.5),
    ]


def test_an_unexcused_morning_and_an_afternoon_worked_split_the_day() -> None:
    assert parts(mark("late", absent_share=0.5)) == [("+", 0.5), ("V", 0.5)]


def test_an_absence_the_head_excused_shows_the_reason_and_one_dismissed_shows_work() -> None:
    assert parts(mark("absent", absence_review="excused", absence_reason="sick_leave")) == [
        ("Ô", 1.0)
    ]
    assert parts(mark("absent", absence_review="dismissed")) == [("+", 1.0)]


def test_a_symbol_can_be_configured() -> None:
    custom = Symbols.with_overrides({"absent": "Ko"})
    assert [s.code for s, _ in day_parts(mark("absent"), custom)] == ["Ko"]


def test_weekends_and_days_to_come_are_blank() -> None:
    assert parts(mark("weekend")) == [] and parts(mark("pending")) == []


def test_a_morning_of_leave_and_an_afternoon_absent_split_the_day() -> None:
    """The day is judged absent (no punch), but the morning was approved leave: half P, half V,
    as the discipline report counts it (0.5 day of unexcused absence), not a whole V."""
    half = mark("absent", excused=(("morning", "annual_leave"),), absent_share=0.5)
    assert parts(half) == [("P", 0.5), ("V", 0.5)]
    assert parts(
        mark("absent", excused=(("morning", "sick_leave"),), absence_review="dismissed")
    ) == [
        ("+", 0.5),
        ("Ô", 0.5),
    ]
