"""The summary as Nội vụ files it: CSV that Excel opens (UTF-8 with BOM) and an XLSX workbook
with the agency, the period and the time of generation on top, a totals sheet and one sheet
per unit, Vietnamese headers, dates as dd/mm/yyyy."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

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
    "Tỷ lệ vi phạm (%)",
    "Ghi chú (vượt ngưỡng kỷ luật)",
]
UNIT_HEADERS = ["STT", "Đơn vị", *FIGURES]
PERSON_HEADERS = ["STT", "Mã cán bộ", "Họ và tên", "Đơn vị", *FIGURES]


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
        "; ".join(line.flags),
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
            writer.writerow([i, line.code, line.name, line.unit_name, *figures(line)])
    else:
        writer.writerow(UNIT_HEADERS)
        for i, line in enumerate(units, start=1):
            writer.writerow([i, line.name, *figures(line)])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def _sheet_title(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:28] or "Đơn vị"
    title, n = base, 2
    while title in used:
        title = f"{base[:25]} ({n})"
        n += 1
    used.add(title)
    return title


def _header_block(ws: Worksheet, scope_name: str, period: str, generated: datetime) -> int:
    """The agency, the title, the period and the time of generation; returns the table's row."""
    for text in (
        scope_name,
        TITLE,
        f"Kỳ báo cáo: {period}",
        f"Thời điểm lập: {generated:%d/%m/%Y %H:%M}",
    ):
        ws.append([text])
    ws.append([])
    ws["A1"].font = Font(bold=True)
    ws["A2"].font = Font(bold=True, size=13)
    return 6


WIDE = ("Đơn vị", "Họ và tên", "Ghi chú (vượt ngưỡng kỷ luật)")


def _table(ws: Worksheet, headers: list[str], rows: list[list[object]], start: int) -> None:
    ws.append(headers)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for col, header in enumerate(headers, start=1):
        cell = ws.cell(row=start, column=col)
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        ws.column_dimensions[get_column_letter(col)].width = 30 if header in WIDE else 12
    for row in rows:
        ws.append(row)
    ws.freeze_panes = f"C{start + 1}"


def to_xlsx(
    scope_name: str,
    period: str,
    generated: datetime,
    units: Sequence[Line],
    people: Sequence[Line],
    total: Line,
) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Tổng hợp"
    start = _header_block(sheet, scope_name, period, generated)
    rows = [[i, u.name, *figures(u)] for i, u in enumerate(units, start=1)]
    rows.append(["", total.name, *figures(total)])
    _table(sheet, UNIT_HEADERS, rows, start)
    used = {"Tổng hợp"}
    for unit in units:
        ws = book.create_sheet(_sheet_title(unit.name, used))
        start = _header_block(ws, f"{scope_name} — {unit.name}", period, generated)
        members = [p for p in people if p.unit_id == unit.key]
        _table(
            ws,
            PERSON_HEADERS,
            [[i, p.code, p.name, p.unit_name, *figures(p)] for i, p in enumerate(members, start=1)],
            start,
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
