"""The summary as Nội vụ files it: CSV that Excel opens (UTF-8 with BOM) and an XLSX workbook
with the agency, the period and the time of generation on top, a totals sheet and one sheet
per unit, Vietnamese headers, dates as dd/mm/yyyy."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from store.summaries import Line

TITLE = "BÁO CÁO TÌNH HÌNH CHẤP HÀNH KỶ LUẬT, KỶ CƯƠNG HÀNH CHÍNH"
FIGURES = [
    "Tổng số CBCCVC",
    "Số ngày làm việc",
    "Số ngày có mặt",
    "Đi muộn (lượt)",
    "Đi muộn (phút)",
    "Về sớm (lượt)",
    "Về sớm (phút)",
    "Nghỉ không lý do (ngày)",
    "Nghỉ có lý do: phép",
    "Nghỉ có lý do: ốm",
    "Nghỉ có lý do: công tác",
    "Nghỉ có lý do: học tập",
    "Nghỉ có lý do: khác",
    "Quên chấm công (lượt)",
    "Đã xử lý: xác nhận",
    "Đã xử lý: có lý do",
    "Đã xử lý: bỏ qua",
    "Tỷ lệ vi phạm (lượt/100 ngày làm việc)",  # the heading of the page, PDF and XLSX
    "Ghi chú (vượt ngưỡng kỷ luật)",
]
UNIT_HEADERS = ["STT", "Đơn vị", *FIGURES]
PERSON_HEADERS = ["STT", "Mã cán bộ", "Họ và tên", "Đơn vị", *FIGURES]


# What a spreadsheet program reads as the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def as_text(value: object) -> object:
    """A person's input written as data, never as a formula: a leading quote neutralises it.

    Numbers stay numbers; only text that a spreadsheet would evaluate is changed.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def figures(line: Line) -> list[object]:
    return [
        line.staff,
        line.working_days,
        line.present_days,
        line.late_count,
        line.late_minutes,
        line.early_count,
        line.early_minutes,
        line.absent_days,
        round(line.excused_leave, 2),
        round(line.excused_sick, 2),
        round(line.excused_trip, 2),
        round(line.excused_study, 2),
        round(line.excused_other, 2),
        line.missing_punches,
        line.confirmed,
        line.excused,
        line.dismissed,
        line.rate,
        as_text("; ".join(line.flags)),
    ]


def period_label(kind: str, first: date, last: date) -> str:
    if kind == "month":
        name = f"Tháng {first.month:02d}/{first.year}"
    elif kind == "quarter":
        name = f"Quý {(first.month - 1) // 3 + 1}/{first.year}"
    else:
        name = f"Năm {first.year}"
    return f"{name} (từ {first:%d/%m/%Y} đến {last:%d/%m/%Y})"


def to_csv(units: Sequence[Line], people: Sequence[Line], by: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if by == "employee":
        writer.writerow(PERSON_HEADERS)
        for i, line in enumerate(people, start=1):
            # A person is not a staff count: the column stays empty on their rows.
            writer.writerow(
                [
                    i,
                    as_text(line.code),
                    as_text(line.name),
                    as_text(line.unit_name),
                    "",
                    *figures(line)[1:],
                ]
            )
    else:
        writer.writerow(UNIT_HEADERS)
        for i, line in enumerate(units, start=1):
            writer.writerow([i, as_text(line.name), *figures(line)])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def _sheet_title(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\\x00-\x1f]", " ", name).strip().lstrip("='+-@ ")[:28] or "Đơn vị"
    title, n = base, 2
    while title in used:
        title = f"{base[:25]} ({n})"
        n += 1
    used.add(title)
    return title


WIDE = ("Đơn vị", "Họ và tên", "Ghi chú (vượt ngưỡng kỷ luật)")


@cache
def _styles() -> dict[str, Any]:
    """The workbook's fonts and fills, made once a workbook is first asked for (openpyxl is
    imported there, not by every process that imports the summaries)."""
    from openpyxl.styles import Alignment, Font, PatternFill

    return {
        "bold": Font(bold=True),
        "title": Font(bold=True, size=13),
        "header_fill": PatternFill("solid", fgColor="DDEBF7"),
        "header_align": Alignment(wrap_text=True, vertical="center", horizontal="center"),
    }


def _styled(ws: Any, value: str, font: str | None = None, header: bool = False) -> Any:
    from openpyxl.cell import WriteOnlyCell

    styles = _styles()
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # a unit or agency name is text, even one beginning with '='
    if font is not None:
        cell.font = styles[font]
    if header:
        cell.fill, cell.alignment = styles["header_fill"], styles["header_align"]
    return cell


def _write_sheet(
    ws: Any,
    heading: str,
    period: str,
    generated: datetime,
    headers: list[str],
    rows: list[list[object]],
) -> None:
    """The agency, the title, the period, the time of generation, then the table from row 6.

    Write-only mode: a province's workbook has a thousand sheets and tens of thousands of rows.
    """
    from openpyxl.utils import get_column_letter

    for col, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(col)].width = 30 if header in WIDE else 12
    ws.freeze_panes = "C7"
    ws.append([_styled(ws, heading, "bold")])
    ws.append([_styled(ws, TITLE, "title")])
    ws.append([_styled(ws, f"Kỳ báo cáo: {period}")])
    ws.append([f"Thời điểm lập: {generated:%d/%m/%Y %H:%M}"])
    ws.append([])
    ws.append([_styled(ws, h, "bold", header=True) for h in headers])
    for row in rows:
        ws.append([_data(ws, value) for value in row])


def _data(ws: Any, value: object) -> object:
    """Text goes in as a string cell, never a formula (openpyxl reads '=…' as one)."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


def to_xlsx(
    scope_name: str,
    period: str,
    generated: datetime,
    units: Sequence[Line],
    people: Sequence[Line],
    total: Line,
) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    rows = [[i, u.name, *figures(u)] for i, u in enumerate(units, start=1)]
    rows.append(["", total.name, *figures(total)])
    _write_sheet(book.create_sheet("Tổng hợp"), scope_name, period, generated, UNIT_HEADERS, rows)
    members: dict[int, list[Line]] = {}
    for person in people:
        members.setdefault(person.unit_id, []).append(person)
    used = {"Tổng hợp"}
    for unit in units:
        _write_sheet(
            book.create_sheet(_sheet_title(unit.name, used)),
            f"{scope_name} — {unit.name}",
            period,
            generated,
            PERSON_HEADERS,
            [
                [i, p.code, p.name, p.unit_name, *figures(p)]
                for i, p in enumerate(members.get(unit.key, []), start=1)
            ],
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
