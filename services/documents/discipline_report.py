"""Báo cáo tình hình chấp hành kỷ luật, kỷ cương hành chính as an official document (XLSX).

Quốc hiệu and tiêu ngữ, the issuing agency and the recipient, the period and the time of
generation; a totals sheet (one row per unit, ranked) and one sheet per unit (one row per
person), each closed by its totals row; the threshold flags one per line in their own column;
signature blocks; A4 landscape, header rows repeated, fitted to the width, page numbers.
Built in write-only mode: a province's workbook has a thousand sheets.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from services.documents.header import MOTTO, NATIONAL_TITLE, SUGGESTS, DocumentHeader
from services.documents.sheets import StyledCells, sheet_titles
from store.summaries import Line, Thresholds

TITLE = "BÁO CÁO TÌNH HÌNH CHẤP HÀNH KỶ LUẬT, KỶ CƯƠNG HÀNH CHÍNH"
TOTALS_SHEET = "Tổng hợp"
RATE_NOTE = (
    "Tỷ lệ vi phạm = (số lượt đi muộn + số lượt về sớm + số ngày nghỉ không lý do) "
    "÷ số ngày làm việc × 100. Vi phạm đã được xét là có lý do hoặc bỏ qua không tính."
)
FIGURES = (
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
    "Số lượt vi phạm tính tỷ lệ",
    "Tỷ lệ vi phạm (lượt/100 ngày làm việc)",
    "Ghi chú (vượt ngưỡng kỷ luật)",
)
UNIT_HEADERS = ("STT", "Mã đơn vị", "Đơn vị", "Tổng số CBCCVC", *FIGURES)
PERSON_HEADERS = ("STT", "Mã cán bộ", "Họ và tên", "Chức vụ", *FIGURES)
WIDTHS = {"Đơn vị": 32, "Họ và tên": 26, "Chức vụ": 16, "Ghi chú (vượt ngưỡng kỷ luật)": 46}


@dataclass(frozen=True, slots=True)
class ReportData:
    """The figures of a report: ranked units (their ``code`` set), people, the total."""

    units: Sequence[Line]
    people: Sequence[Line]
    total: Line
    thresholds: Thresholds
    titles: dict[int, str] | None = None  # employee id → chức vụ


def events(line: Line) -> float:
    """The numerator of the rate: late arrivals + early departures + unexcused absence days."""
    return round(line.late_count + line.early_count + line.absent_days, 2)


def person_flags(line: Line, t: Thresholds) -> list[str]:
    """Each threshold a person reaches, with the threshold (Nghị định 112/2020/NĐ-CP)."""
    flags = []
    if line.max_month_absent_days >= t.month_days:
        flags.append(
            f"Nghỉ không lý do {line.max_month_absent_days:g} ngày trong một tháng "
            f"(ngưỡng {t.month_days:g} ngày/tháng)"
        )
    if line.absent_days >= t.year_days:
        flags.append(
            f"Nghỉ không lý do {line.absent_days:g} ngày trong kỳ (ngưỡng {t.year_days:g} ngày)"
        )
    if line.max_consecutive_absent_days >= t.consecutive_days:
        flags.append(
            f"Nghỉ không lý do {line.max_consecutive_absent_days} ngày liên tục "
            f"(ngưỡng {t.consecutive_days} ngày)"
        )
    return flags


def figures(line: Line, flags: Sequence[str]) -> list[object]:
    return [
        line.working_days,
        line.present_days,
        line.late_count,
        line.late_minutes,
        line.early_count,
        line.early_minutes,
        round(line.absent_days, 2),
        round(line.excused_leave, 2),
        round(line.excused_sick, 2),
        round(line.excused_trip, 2),
        round(line.excused_study, 2),
        round(line.excused_other, 2),
        line.missing_punches,
        line.confirmed,
        line.excused,
        line.dismissed,
        events(line),
        line.rate,
        "\n".join(flags),
    ]


_BOLD = Font(bold=True)
_ITALIC = Font(italic=True)
_TITLE = Font(bold=True, size=13)
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD = Alignment(wrap_text=True, vertical="center", horizontal="center")
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center")


def _write_sheet(
    ws: Any,
    header: DocumentHeader,
    heading: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    total: Sequence[object],
) -> None:
    cell = StyledCells(ws)
    ncols = len(headers)
    right = max(ncols - 8, 5)  # the column where the national title block starts
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    for col, name in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(col)].width = WIDTHS.get(name, 10 if col > 1 else 5)
    ws.freeze_panes = "D10"

    def line(*cells: tuple[int, Any]) -> None:
        row: list[Any] = [None] * ncols
        for col, cell in cells:
            row[col - 1] = cell
        ws.append(row)

    line(
        (1, cell(header.agency.upper(), _BOLD, _CENTER)),
        (right, cell(NATIONAL_TITLE, _BOLD, _CENTER)),
    )
    line((1, cell(heading, _BOLD, _CENTER)), (right, cell(MOTTO, _BOLD, _CENTER)))
    line((right, cell(header.dated_line(), _ITALIC, _CENTER)))
    line((1, cell(TITLE, _TITLE, _CENTER)))
    line((1, cell(f"Kỳ báo cáo: {header.period_label}", None, _CENTER)))
    line((1, cell(f"Kính gửi: {header.recipient}" if header.recipient else "", None, _CENTER)))
    generated = f"{header.generated:%H:%M ngày %d/%m/%Y}" if header.generated else ""
    line((1, cell(f"Thời điểm lập: {generated}", _ITALIC, _CENTER)))
    ws.append([])
    ws.append([cell(h, _BOLD, _HEAD, box=True) for h in headers])
    for row in rows:
        ws.append([cell(v, None, _WRAP if isinstance(v, str) else None, box=True) for v in row])
    ws.append([cell(v, _BOLD, _WRAP if isinstance(v, str) else None, box=True) for v in total])
    ws.append([])
    ws.append([cell(RATE_NOTE, _ITALIC)])
    ws.append([cell(SUGGESTS, _ITALIC)])
    ws.append([])
    signatures = header.signatures
    cols = [2] + ([right] if len(signatures) > 1 else [])
    line(*[(c, cell(s.role, _BOLD, _CENTER)) for c, s in zip(cols, signatures, strict=False)])
    line(*[(c, cell(s.note, _ITALIC, _CENTER)) for c, s in zip(cols, signatures, strict=False)])
    for _ in range(3):
        ws.append([])
    line(*[(c, cell(s.name, _BOLD, _CENTER)) for c, s in zip(cols, signatures, strict=False)])
    last = get_column_letter(ncols)
    left_end = get_column_letter(max(right - 1, 1))
    for r in (1, 2):
        ws.merged_cells.add(f"A{r}:{left_end}{r}")
        ws.merged_cells.add(f"{get_column_letter(right)}{r}:{last}{r}")
    ws.merged_cells.add(f"{get_column_letter(right)}3:{last}3")
    for r in (4, 5, 6, 7):
        ws.merged_cells.add(f"A{r}:{last}{r}")
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = "9:9"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "Trang &P / &N"


def to_xlsx(header: DocumentHeader, data: ReportData) -> bytes:
    """The workbook: the totals sheet, then one sheet per unit in the order of ``data.units``."""
    book = Workbook(write_only=True)
    t = data.thresholds
    members: dict[int, list[Line]] = {}
    for person in data.people:
        members.setdefault(person.unit_id, []).append(person)
    unit_rows = []
    for i, unit in enumerate(data.units, start=1):
        flagged = [
            f"{p.code} {p.name}: {flag}"
            for p in members.get(unit.key, [])
            for flag in person_flags(p, t)
        ]
        unit_rows.append([i, unit.code, unit.name, unit.staff, *figures(unit, flagged)])
    total = data.total
    _write_sheet(
        book.create_sheet(TOTALS_SHEET),
        header,
        header.unit or header.agency,
        UNIT_HEADERS,
        unit_rows,
        ["", "", "Tổng cộng", total.staff, *figures(total, [])],
    )
    titles = data.titles or {}
    for title, unit in zip(
        sheet_titles([u.name for u in data.units], reserved=[TOTALS_SHEET]), data.units, strict=True
    ):
        people = members.get(unit.key, [])
        _write_sheet(
            book.create_sheet(title),
            header,
            unit.name,
            PERSON_HEADERS,
            [
                [i, p.code, p.name, titles.get(p.key, ""), *figures(p, person_flags(p, t))]
                for i, p in enumerate(people, start=1)
            ],
            ["", "", f"Cộng ({len(people)} người)", "", *figures(unit, [])],
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def _pdf_table(
    pdf: Any,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    total: Sequence[object],
    wide: dict[int, float],
) -> None:
    from services.documents.grid import Column, draw_grid
    from services.documents.pdf import FAMILY

    usable = pdf.w - pdf.l_margin - pdf.r_margin
    narrow = (usable - sum(wide.values())) / (len(headers) - len(wide))
    columns = [
        Column(h, wide.get(i, narrow), "L" if i in wide else "C", wrap=i in wide)
        for i, h in enumerate(headers)
    ]
    draw_grid(
        pdf,
        FAMILY,
        columns,
        ([_pdf_text(v) for v in row] for row in rows),
        [_pdf_text(v) for v in total],
    )


def _pdf_section(pdf: Any, header: DocumentHeader, heading: str) -> None:
    from services.documents.pdf import header_lines

    pdf.add_page()
    pdf.national_block(header.agency, heading, header.dated_line())
    pdf.centered(TITLE, "B", 12, 6)
    pdf.centered(f"Kỳ báo cáo: {header.period_label}")
    if header.recipient:
        pdf.centered(f"Kính gửi: {header.recipient}")
    pdf.centered(header_lines(header), "I", 8)
    pdf.ln(2)


def to_pdf(header: DocumentHeader, data: ReportData) -> bytes:
    """The same document as a PDF: the totals section, then a section per unit."""
    from services.documents.pdf import DocumentPdf

    pdf = DocumentPdf("L")
    pdf.set_title(f"{TITLE} - {header.period_label}")
    t = data.thresholds
    members: dict[int, list[Line]] = {}
    for person in data.people:
        members.setdefault(person.unit_id, []).append(person)
    roles = [(s.role, s.note) for s in header.signatures]
    _pdf_section(pdf, header, header.unit or header.agency)
    unit_rows = []
    for i, unit in enumerate(data.units, start=1):
        flagged = [
            f"{p.code} {p.name}: {flag}"
            for p in members.get(unit.key, [])
            for flag in person_flags(p, t)
        ]
        unit_rows.append([i, unit.code, unit.name, unit.staff, *figures(unit, flagged)])
    total = data.total
    _pdf_table(
        pdf,
        UNIT_HEADERS,
        unit_rows,
        ["", "", "Tổng cộng", total.staff, *figures(total, [])],
        {1: 12, 2: 34, len(UNIT_HEADERS) - 1: 52},
    )
    pdf.ln(2)
    pdf.notice(RATE_NOTE)
    pdf.signatures(roles)
    titles = data.titles or {}
    for unit in data.units:
        people = members.get(unit.key, [])
        _pdf_section(pdf, header, unit.name)
        _pdf_table(
            pdf,
            PERSON_HEADERS,
            [
                [i, p.code, p.name, titles.get(p.key, ""), *figures(p, person_flags(p, t))]
                for i, p in enumerate(people, start=1)
            ],
            ["", "", f"Cộng ({len(people)} người)", "", *figures(unit, [])],
            {1: 14, 2: 30, 3: 16, len(PERSON_HEADERS) - 1: 50},
        )
        pdf.ln(2)
        pdf.notice(RATE_NOTE)
        pdf.signatures(roles)
    return pdf.output_bytes()
