"""Bảng chấm công cells: the symbols and shares of a day, half days included."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from kycuong.settings import Settings
from services.documents.timesheet import Symbols, build_rows, day_parts
from store.timesheets import DayMark, PersonMonth

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


def test_the_legend_carries_the_whole_form_even_symbols_never_produced() -> None:
    """The form's legend (Lương thời gian +, Ốm Ô, Con ốm Cô, Thai sản TS, Tai nạn T, Nghỉ
    phép P, Hội nghị, học tập H, Nghỉ bù NB, Nghỉ không lương KL, Ngừng việc N, Lao động
    nghĩa vụ LĐ) in its order, then ours; each code once."""
    codes = [code for code, _ in S.legend()]
    assert codes[:11] == ["+", "Ô", "Cô", "TS", "T", "P", "H", "NB", "KL", "N", "LĐ"]
    assert codes[11:] == ["CT", "K", "L", "V"] and len(set(codes)) == len(codes)
    assert dict(S.legend())["LĐ"] == "Lao động nghĩa vụ"


def test_a_kind_the_form_has_but_the_software_never_produces_counts_nowhere() -> None:
    """Should one come (an excuse kind added later), its cell shows the form's symbol and
    no Quy ra công column counts it: the form does not say which."""
    person = PersonMonth(
        1, "E1", "A", "", 1, {DAY: mark("on_leave", excused=(("all", "child_sick"),))}
    )
    row = build_rows([person], DAY.year, DAY.month, S)[0]
    assert row.cells[DAY.day - 1] == "Cô" and sum(row.totals.values()) == 0


def test_a_misspelt_kind_in_the_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="absnt"):
        Symbols.with_overrides({"absnt": "Ko"})
    with pytest.raises(ValidationError, match="absnt"):
        Settings(timesheet_symbols={"absnt": "Ko"})
    assert Settings(timesheet_symbols={"absent": "Ko"}).timesheet_symbols == {"absent": "Ko"}
