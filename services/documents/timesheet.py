"""Bảng chấm công, mẫu C01a-HD (chế độ kế toán hành chính, sự nghiệp: Thông tư
24/2024/TT-BTC, which replaced Thông tư 107/2017/TT-BTC from 01/01/2025): a row per person,
a column per day with the form's symbols, the "Quy ra công" totals, three signatures.

The symbol table is configuration (``Symbols``) with the form's defaults; docs/documents.md
lists them and the two the form lacks (holiday, unexcused absence).
"""

from __future__ import annotations

import calendar
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from services.documents.header import DocumentHeader
from services.documents.sheets import StyledCells, sheet_titles
from store.timesheets import DayMark, PersonMonth

FORM = "Mẫu số C01a-HD"
FORM_SOURCE = (
    "(Ban hành kèm theo Thông tư số 24/2024/TT-BTC ngày 17/4/2024 của Bộ trưởng Bộ Tài chính)"
)
TITLE = "BẢNG CHẤM CÔNG"

# bucket: which "Quy ra công" column a symbol counts in.
TIME_PAY, UNPAID, INSURANCE = "time_pay", "unpaid", "insurance"
BUCKETS = {
    TIME_PAY: "Số công hưởng lương thời gian",
    UNPAID: "Số công nghỉ không lương",
    INSURANCE: "Số công hưởng BHXH",
}


@dataclass(frozen=True, slots=True)
class Symbol:
    code: str
    label: str
    bucket: str


DEFAULT_SYMBOLS: dict[str, Symbol] = {
    "present": Symbol("+", "Lương thời gian (làm việc)", TIME_PAY),
    "sick_leave": Symbol("Ô", "Ốm, điều dưỡng", INSURANCE),
    "maternity": Symbol("Ts", "Thai sản", INSURANCE),
    "annual_leave": Symbol("P", "Nghỉ phép", TIME_PAY),
    "personal_paid": Symbol("P", "Nghỉ phép", TIME_PAY),
    "training": Symbol("H", "Hội nghị, học tập", TIME_PAY),
    "outside_meeting": Symbol("H", "Hội nghị, học tập", TIME_PAY),
    "compensatory_day": Symbol("Nb", "Nghỉ bù", TIME_PAY),
    "unpaid_leave": Symbol("No", "Nghỉ không lương", UNPAID),
    "business_trip": Symbol("CT", "Công tác", TIME_PAY),
    "other": Symbol("K", "Nghỉ có lý do khác", TIME_PAY),
    "holiday": Symbol("L", "Nghỉ lễ, Tết", TIME_PAY),
    "absent": Symbol("V", "Vắng không lý do", UNPAID),
}


@dataclass(frozen=True, slots=True)
class Symbols:
    """The symbol of each day kind; ``overrides`` maps a kind to another code (configuration)."""

    table: Mapping[str, Symbol] = field(default_factory=lambda: dict(DEFAULT_SYMBOLS))

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, str]) -> Symbols:
        table = dict(DEFAULT_SYMBOLS)
        for kind, code in overrides.items():
            if kind in table:
                old = table[kind]
                table[kind] = Symbol(code, old.label, old.bucket)
        return cls(table)

    def legend(self) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for symbol in self.table.values():
            seen.setdefault(symbol.code, symbol.label)
        return list(seen.items())


@dataclass(frozen=True, slots=True)
class Row:
    """One person's line: the cell text of each day and the Quy ra công totals."""

    code: str
    name: str
    title: str
    cells: tuple[str, ...]
    totals: dict[str, float]


def day_parts(mark: DayMark | None, symbols: Symbols) -> list[tuple[Symbol, float]]:
    """The symbols of a date with the share of the day each takes (half days split)."""
    t = symbols.table
    if mark is None or mark.status in ("weekend", "off_shift", "pending"):
        return []
    if mark.status == "holiday":
        return [(t["holiday"], 1.0)]
    if mark.status == "absent":
        if mark.absence_review == "dismissed":
            return [(t["present"], 1.0)]
        if mark.absence_review == "excused":
            return [(t.get(mark.absence_reason or "other", t["other"]), 1.0)]
        return [(t["absent"], 1.0)]
    excused = [t.get(kind, t["other"]) for _, kind in mark.excused]
    if mark.status == "on_leave":
        share = 1.0 / len(excused) if excused else 1.0
        return [(s, share) for s in excused] or [(t["other"], 1.0)]
    # present or late, possibly with an excused session (a half day's leave or trip)
    if not excused:
        return [(t["present"], 1.0)]
    sessions = max(2, len(excused) + 1)
    share = 1.0 / sessions
    return [(t["present"], 1.0 - share * len(excused))] + [(s, share) for s in excused]


def _cell(parts: list[tuple[Symbol, float]]) -> str:
    codes: list[str] = []
    for symbol, _ in parts:
        if symbol.code not in codes:
            codes.append(symbol.code)
    return "/".join(codes)


def build_rows(people: Sequence[PersonMonth], year: int, month: int, symbols: Symbols) -> list[Row]:
    """The form's rows for a month: symbols per day and Quy ra công per bucket."""
    days = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    rows = []
    for person in people:
        totals = dict.fromkeys(BUCKETS, 0.0)
        cells = []
        for day in days:
            parts = day_parts(person.days.get(day), symbols)
            for symbol, share in parts:
                totals[symbol.bucket] += share
            cells.append(_cell(parts))
        rows.append(
            Row(
                person.code,
                person.name,
                person.title,
                tuple(cells),
                {k: round(v, 2) for k, v in totals.items()},
            )
        )
    return rows


_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_BOLD = Font(bold=True)


def _write_unit(
    ws: Any,
    header: DocumentHeader,
    unit_name: str,
    year: int,
    month: int,
    rows: Sequence[Row],
    symbols: Symbols,
) -> None:
    """The form on one sheet, row by row (write-only: a province has a thousand units)."""
    ndays = calendar.monthrange(year, month)[1]
    last_col = 3 + ndays + len(BUCKETS)
    form_col = last_col - 8
    head = 8
    first_data = head + 3
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.column_dimensions["A"].width = 5
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions["C"].width = 14
    for d in range(1, ndays + 1):
        ws.column_dimensions[get_column_letter(3 + d)].width = 3.6
    for i in range(len(BUCKETS)):
        ws.column_dimensions[get_column_letter(4 + ndays + i)].width = 10
    ws.freeze_panes = f"D{first_data}"

    cell = StyledCells(ws)

    def line(*cells: tuple[int, Any]) -> None:
        row: list[Any] = [None] * last_col
        for col, c in cells:
            row[col - 1] = c
        ws.append(row)

    line((1, cell(f"Đơn vị: {header.agency}", _BOLD)), (form_col, cell(FORM, _BOLD)))
    line((1, cell(f"Bộ phận: {unit_name}")), (form_col, cell(FORM_SOURCE, Font(italic=True))))
    line((1, cell("Mã QHNS: ................")))
    ws.append([])
    line((1, cell(TITLE, Font(bold=True, size=14), _CENTER)))
    line((1, cell(f"Tháng {month:02d} năm {year}", None, _CENTER)))
    ws.append([])
    top = [cell(None, _BOLD, _CENTER, True) for _ in range(last_col)]
    for col, text in (
        (1, "STT"),
        (2, "Họ và tên"),
        (3, "Ngạch, bậc lương hoặc cấp bậc, chức vụ"),
        (4, "Ngày trong tháng"),
        (4 + ndays, "Quy ra công"),
    ):
        top[col - 1].value = text
    ws.append(top)
    ws.append(
        [
            cell(v, _BOLD, _CENTER, True)
            for v in [None, None, None, *range(1, ndays + 1), *BUCKETS.values()]
        ]
    )
    letters = ["A", "B", "C", *[str(d) for d in range(1, ndays + len(BUCKETS) + 1)]]
    ws.append([cell(v, _BOLD, _CENTER, True) for v in letters])
    for i, row in enumerate(rows, start=1):
        values = [i, row.name, row.title or "", *row.cells, *row.totals.values()]
        ws.append(
            [cell(v, None, None if c in (1, 2) else _CENTER, True) for c, v in enumerate(values)]
        )
    sums = [round(sum(row.totals[b] for row in rows), 2) for b in BUCKETS]
    ws.append([cell(v, _BOLD, None, True) for v in [None, "Cộng", None, *([None] * ndays), *sums]])
    ws.append([])
    line((form_col, cell(header.dated_line(), Font(italic=True), Alignment(horizontal="center"))))
    role_cols = (2, 4 + ndays // 3, 4 + 2 * ndays // 3)
    roles = ("Người chấm công", "Phụ trách bộ phận", "Người duyệt")
    line(*[(c, cell(r, _BOLD)) for c, r in zip(role_cols, roles, strict=True)])
    line(*[(c, cell("(Ký, họ tên)", Font(italic=True))) for c in role_cols])
    for _ in range(4):
        ws.append([])
    line((1, cell("Ký hiệu chấm công:", _BOLD)))
    legend = symbols.legend()
    per_column = (len(legend) + 2) // 3
    for r in range(per_column):
        entries = []
        for k in range(3):
            n = k * per_column + r
            if n < len(legend):
                code, label = legend[n]
                entries.append((2 + k * (ndays // 3), cell(f"- {label}: {code}")))
        line(*entries)
    last = get_column_letter(last_col)
    for r in (5, 6):
        ws.merged_cells.add(f"A{r}:{last}{r}")
    for col in (1, 2, 3):
        letter = get_column_letter(col)
        ws.merged_cells.add(f"{letter}{head}:{letter}{head + 1}")
    ws.merged_cells.add(f"D{head}:{get_column_letter(3 + ndays)}{head}")
    ws.merged_cells.add(f"{get_column_letter(4 + ndays)}{head}:{last}{head}")
    ws.page_setup.paperSize = "9"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = f"{head}:{head + 2}"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "Trang &P / &N"


def to_xlsx(
    header: DocumentHeader,
    units: Sequence[tuple[str, Sequence[Row]]],
    year: int,
    month: int,
    symbols: Symbols,
) -> bytes:
    """One sheet per unit: the form with its header, rows, Cộng, signatures and legend."""
    book = Workbook(write_only=True)
    for title, (unit_name, rows) in zip(sheet_titles([n for n, _ in units]), units, strict=True):
        _write_unit(book.create_sheet(title), header, unit_name, year, month, rows, symbols)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _number(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def to_pdf(
    header: DocumentHeader,
    units: Sequence[tuple[str, Sequence[Row]]],
    year: int,
    month: int,
    symbols: Symbols,
) -> bytes:
    """The form on A4 landscape, one unit after another (each on its own pages)."""
    from services.documents.grid import Column, draw_grid
    from services.documents.pdf import FAMILY, DocumentPdf

    ndays = calendar.monthrange(year, month)[1]
    pdf = DocumentPdf("L")
    pdf.set_title(f"{TITLE} - Tháng {month:02d}/{year}")
    usable = pdf.w - pdf.l_margin - pdf.r_margin
    widths = [7.0, 38.0, 24.0, *([4.9] * ndays), *([14.0] * len(BUCKETS))]
    widths[1] += usable - sum(widths)
    headers = [
        "STT",
        "Họ và tên",
        "Ngạch, chức vụ",
        *[str(d) for d in range(1, ndays + 1)],
        "Công hưởng lương thời gian",
        "Công nghỉ không lương",
        "Công hưởng BHXH",
    ]
    for unit_name, rows in units:
        pdf.add_page()
        y = pdf.get_y()
        pdf.set_font(FAMILY, "", 8.5)
        pdf.multi_cell(
            120,
            4.2,
            f"Đơn vị: {header.agency}\nBộ phận: {unit_name}\nMã QHNS: ........",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_xy(pdf.w - pdf.r_margin - 110, y)
        pdf.set_font(FAMILY, "B", 8.5)
        pdf.cell(110, 4.2, FORM, align="C", new_x="LEFT", new_y="NEXT")
        pdf.set_font(FAMILY, "I", 7.5)
        pdf.multi_cell(110, 3.8, FORM_SOURCE, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(max(pdf.get_y(), y + 14))
        pdf.centered(TITLE, "B", 13, 6)
        pdf.centered(f"Tháng {month:02d} năm {year}", "", 9, 5)
        pdf.ln(1)
        columns = [
            Column(h, w, "L" if i in (1, 2) else "C", wrap=i in (1, 2))
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        ]
        body = (
            [str(i), row.name, row.title, *row.cells, *(_number(v) for v in row.totals.values())]
            for i, row in enumerate(rows, start=1)
        )
        sums = [_number(round(sum(r.totals[b] for r in rows), 2)) for b in BUCKETS]
        draw_grid(pdf, FAMILY, columns, body, ["", "Cộng", "", *([""] * ndays), *sums])
        pdf.ln(3)
        pdf.signatures(
            [
                ("Người chấm công", "(Ký, họ tên)"),
                ("Phụ trách bộ phận", "(Ký, họ tên)"),
                ("Người duyệt", "(Ký, họ tên)"),
            ],
            header.dated_line(),
        )
        pdf.set_font(FAMILY, "B", 7.5)
        pdf.cell(0, 4, "Ký hiệu chấm công:", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 7.5)
        legend = symbols.legend()
        per_row = 4
        for start in range(0, len(legend), per_row):
            chunk = legend[start : start + per_row]
            for code, label in chunk:
                pdf.cell(usable / per_row, 3.8, f"- {label}: {code}")
            pdf.ln(3.8)
    return pdf.output_bytes()
