"""Báo cáo tình hình chấp hành kỷ luật, kỷ cương hành chính as an official document (XLSX).

Quốc hiệu and tiêu ngữ, the issuing agency and the recipient, the period and the time of
generation; a totals sheet (one row per unit, ranked) and one sheet per unit (one row per
person), each closed by its totals row; the threshold flags one per line in their own column;
signature blocks; A4 landscape, header rows repeated, fitted to the width, page numbers.
Written with XlsxWriter, row by row (``sheets.StreamedSheet``): a province's workbook has a
thousand sheets and a million cells.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kycuong.labels import vn_number
from services.documents.header import MOTTO, NATIONAL_TITLE, SUGGESTS, DocumentHeader
from services.documents.sheets import (
    add_sheet,
    row_points,
    sheet_titles,
    signature_blocks,
    text_lines,
    workbook,
)
from store.summaries import Line, Thresholds

if TYPE_CHECKING:
    from services.documents.streamed import StreamedSheet

TITLE = "BÁO CÁO TÌNH HÌNH CHẤP HÀNH KỶ LUẬT, KỶ CƯƠNG HÀNH CHÍNH"
TOTALS_SHEET = "Tổng hợp"
# the note of a unit in scope with nobody, or nobody with a working day, in the period
NO_DATA = "Không có dữ liệu chấm công trong kỳ"
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
SIZE = 11  # points, every text of the workbook but the title
TEXT_COLUMNS = {"Mã đơn vị", "Đơn vị", "Mã cán bộ", "Họ và tên", "Chức vụ", FIGURES[-1]}


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
            f"Nghỉ không lý do {vn_number(line.max_month_absent_days)} ngày trong một tháng "
            f"(ngưỡng {vn_number(t.month_days)} ngày/tháng)"
        )
    if line.absent_days >= t.year_days:
        flags.append(
            f"Nghỉ không lý do {vn_number(line.absent_days)} ngày trong kỳ "
            f"(ngưỡng {vn_number(t.year_days)} ngày)"
        )
    if line.max_consecutive_absent_days >= t.consecutive_days:
        flags.append(
            f"Nghỉ không lý do {line.max_consecutive_absent_days} ngày liên tục "
            f"(ngưỡng {t.consecutive_days} ngày)"
        )
    return flags


def unit_flags(people: Sequence[Line], t: Thresholds) -> list[str]:
    """A unit's row on the totals sheet: how many of its people reach each threshold, one line
    per threshold (the names are on the unit's own sheet). Listing every person's flags here
    made one cell of 60 lines for a unit of 30, taller than a page."""
    reached = (
        (
            sum(p.max_month_absent_days >= t.month_days for p in people),
            f"nghỉ không lý do {vn_number(t.month_days)} ngày/tháng",
        ),
        (
            sum(p.absent_days >= t.year_days for p in people),
            f"nghỉ không lý do {vn_number(t.year_days)} ngày trong kỳ",
        ),
        (
            sum(p.max_consecutive_absent_days >= t.consecutive_days for p in people),
            f"nghỉ không lý do {t.consecutive_days} ngày liên tục",
        ),
    )
    return [f"{n} người đạt ngưỡng {what}" for n, what in reached if n]


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


class _Formats:
    """XlsxWriter formats of the document, made once per workbook."""

    def __init__(self, book: Any) -> None:
        base = {"font_name": "Times New Roman", "font_size": SIZE}
        self.bold_center = book.add_format({**base, "bold": True, "align": "center"})
        self.italic_center = book.add_format({**base, "italic": True, "align": "center"})
        # the merged blocks (national title, heading, period…) wrap in the rows' heights
        block = {**base, "align": "center", "valign": "vcenter", "text_wrap": True}
        self.block_bold = book.add_format({**block, "bold": True})
        self.block_italic = book.add_format({**block, "italic": True})
        self.block = book.add_format(block)
        self.title = book.add_format({**block, "bold": True, "size": 13})
        self.note = book.add_format({**base, "italic": True})
        box = {**base, "border": 1, "valign": "top"}
        self.head = book.add_format(
            {
                **box,
                "bold": True,
                "text_wrap": True,
                "align": "center",
                "valign": "vcenter",
                "bg_color": "#DDEBF7",
            }
        )
        self.cell = book.add_format(box)
        self.text = book.add_format({**box, "text_wrap": True})
        self.total = book.add_format({**box, "bold": True})
        self.total_text = book.add_format({**box, "bold": True, "text_wrap": True})


def _write_sheet(
    ws: StreamedSheet,
    f: _Formats,
    header: DocumentHeader,
    unit: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    total: Sequence[object],
) -> None:
    """Header blocks, the table from row 10 (index 9 is its heading), notes, signatures;
    ``unit``: the unit the sheet is about, named under the title ("" for the whole agency).

    Rows are written in order (constant-memory mode: a province has a thousand sheets)."""
    ncols = len(headers)
    last = ncols - 1
    right = max(ncols - 9, 4)  # the first column of the national title block
    widths = [WIDTHS.get(name, 10 if col else 5) for col, name in enumerate(headers)]
    first = 0
    for col in range(1, ncols + 1):  # a call per run of equal widths (the file is the same)
        if col == ncols or widths[col] != widths[first]:
            ws.set_column(first, col - 1, widths[first])
            first = col
    left_width, right_width, whole = sum(widths[:right]), sum(widths[right:]), sum(widths)

    def merged(
        r: int, blocks: Sequence[tuple[int, int, str, Any, float]], bold: bool = False
    ) -> None:
        """Merged blocks on row ``r`` (first column, last, text, format, width), the row
        as tall as the longest text wrapped (a spreadsheet never fits a merged cell)."""
        size = 13 if any(fmt is f.title for *_, fmt, _ in blocks) else SIZE
        lines = max(text_lines(text, width, size, bold) for _, _, text, _, width in blocks)
        if lines > 1 or size > SIZE:
            ws.set_row(r, row_points(lines, size))
        for first_col, last_col, text, fmt, _ in blocks:
            ws.merge_values(r, first_col, last_col, text, fmt)

    top, bottom = header.issuer_lines()
    merged(
        0,
        [
            (0, right - 1, top, f.block if bottom else f.block_bold, left_width),
            (right, last, NATIONAL_TITLE, f.block_bold, right_width),
        ],
        bold=True,
    )
    merged(
        1,
        [
            (0, right - 1, bottom, f.block_bold, left_width),
            (right, last, MOTTO, f.block_bold, right_width),
        ],
        bold=True,
    )
    merged(2, [(right, last, header.dated_line(), f.block_italic, right_width)])
    generated = f"{header.generated:%H:%M ngày %d/%m/%Y}" if header.generated else ""
    # the unit a sheet is about goes under the title (the issuing block names the agency)
    merged(3, [(0, last, f"{TITLE}\n{unit}" if unit else TITLE, f.title, whole)], bold=True)
    for r, text, fmt in (
        (4, f"Kỳ báo cáo: {header.period_label}", f.block),
        (5, f"Kính gửi: {header.recipient}" if header.recipient else "", f.block),
        (6, f"Thời điểm lập: {generated}", f.block_italic),
    ):
        merged(r, [(0, last, text, fmt, whole)])
    heading_lines = max(text_lines(h, w, SIZE, True) for h, w in zip(headers, widths, strict=True))
    ws.set_row(8, row_points(heading_lines))
    ws.write_values(8, 0, headers, f.head)
    # the columns of text (the others hold numbers, one line): a province has 30,000 rows
    wrapped = [(col, widths[col]) for col, name in enumerate(headers) if name in TEXT_COLUMNS]
    r = 9
    for row in rows:
        _fit(ws, r, row, wrapped)
        ws.write_values(r, 0, row, f.text, f.cell)
        r += 1
    _fit(ws, r, total, wrapped, bold=True)
    ws.write_values(r, 0, total, f.total_text, f.total)
    r += 2
    # one line each, narrower than the table: it runs over the empty cells to its right
    ws.write_values(r, 0, [RATE_NOTE], f.note)
    ws.write_values(r + 1, 0, [SUGGESTS], f.note)
    r += 3
    # each signature block merged and centred: two under the issuing body and the national
    # title, as the heading's blocks (Nghị định 30/2020/NĐ-CP); others share the width
    signers = header.signatures
    blocks = (
        [(0, right - 1), (right, last)]
        if len(signers) == 2
        else signature_blocks(widths, len(signers))
    )
    for at, part, fmt in ((r, "role", f.bold_center), (r + 1, "note", f.italic_center)):
        for (first_col, last_col), signer in zip(blocks, signers, strict=True):
            ws.merge_values(at, first_col, last_col, getattr(signer, part), fmt)
    if any(s.name for s in signers):
        for (first_col, last_col), signer in zip(blocks, signers, strict=True):
            ws.merge_values(r + 5, first_col, last_col, signer.name, f.bold_center)
    ws.freeze_panes(9, 3)
    ws.set_paper(9)  # A4
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(8)
    ws.set_margins(left=0.4, right=0.4)
    ws.set_footer("&CTrang &P / &N")
    ws.finish()


def _fit(
    ws: StreamedSheet,
    r: int,
    row: Sequence[object],
    columns: Sequence[tuple[int, float]],
    bold: bool = False,
) -> None:
    """Row ``r`` as tall as its longest text wrapped (a name, a chức vụ, the flags one per
    line); a row of one line keeps the default height."""
    lines = 1
    for col, width in columns:
        value = row[col]
        if value.__class__ is str and value:
            lines = max(lines, text_lines(value, width, SIZE, bold))
    if lines > 1:
        ws.set_row(r, row_points(lines))


def to_xlsx(header: DocumentHeader, data: ReportData) -> bytes:
    """The workbook: the totals sheet, then one sheet per unit in the order of ``data.units``.

    Streamed sheets: a province's workbook in ≈ a third of XlsxWriter's own time (issue #13)."""
    out = io.BytesIO()
    book = workbook(out)
    f = _Formats(book)
    t = data.thresholds
    members: dict[int, list[Line]] = {}
    for person in data.people:
        members.setdefault(person.unit_id, []).append(person)
    unit_rows = []
    for i, unit in enumerate(data.units, start=1):
        flagged = unit_flags(members.get(unit.key, []), t) if unit.working_days else [NO_DATA]
        unit_rows.append([i, unit.code, unit.name, unit.staff, *figures(unit, flagged)])
    total = data.total
    _write_sheet(
        add_sheet(book, TOTALS_SHEET),
        f,
        header,
        header.unit,
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
            add_sheet(book, title),
            f,
            header,
            unit.name,
            PERSON_HEADERS,
            [
                [i, p.code, p.name, titles.get(p.key, ""), *figures(p, person_flags(p, t))]
                for i, p in enumerate(people, start=1)
            ],
            ["", "", f"Cộng ({len(people)} người)", "", *figures(unit, [])],
        )
    book.close()
    return out.getvalue()


def _pdf_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return vn_number(value)
    return str(value)


def _pdf_columns(pdf: Any, headers: Sequence[str], wide: Mapping[int, float]) -> list[Any]:
    """The table's columns: those of ``wide`` (text, wrapped) as wide as given, the others
    sharing the rest but each wide enough for its heading's longest word at the table's size
    ("CBCCVC" shrank to 4.5 points); the last column (the flags) gives the room they take."""
    from services.documents.grid import Column, heading_width
    from services.documents.pdf import FAMILY

    usable = pdf.w - pdf.l_margin - pdf.r_margin
    narrow = (usable - sum(wide.values())) / (len(headers) - len(wide))
    widths = [
        wide.get(i, max(narrow, heading_width(pdf, FAMILY, h))) for i, h in enumerate(headers)
    ]
    widths[-1] -= sum(widths) - usable
    return [
        Column(h, w, "L" if i in wide else "C", wrap=i in wide)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    ]


def _pdf_table(
    pdf: Any,
    columns: Sequence[Any],
    rows: Sequence[Sequence[object]],
    total: Sequence[object],
) -> None:
    from services.documents.grid import draw_grid
    from services.documents.pdf import FAMILY

    draw_grid(
        pdf,
        FAMILY,
        columns,
        ([_pdf_text(v) for v in row] for row in rows),
        [_pdf_text(v) for v in total],
    )


def _pdf_section(pdf: Any, header: DocumentHeader, unit: str) -> None:
    """A section's first page: the issuing block, the title with ``unit`` under it ("" for
    the whole agency), the period, the recipient."""
    from services.documents.pdf import header_lines

    pdf.add_page()
    pdf.national_block(*header.issuer_lines(), header.dated_line())
    pdf.centered(TITLE, "B", 12, 6)
    if unit:
        pdf.centered(unit, "B", 11, 6)
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
    _pdf_section(pdf, header, header.unit)
    unit_rows = []
    for i, unit in enumerate(data.units, start=1):
        flagged = unit_flags(members.get(unit.key, []), t) if unit.working_days else [NO_DATA]
        unit_rows.append([i, unit.code, unit.name, unit.staff, *figures(unit, flagged)])
    total = data.total
    _pdf_table(
        pdf,
        _pdf_columns(pdf, UNIT_HEADERS, {1: 12, 2: 34, len(UNIT_HEADERS) - 1: 52}),
        unit_rows,
        ["", "", "Tổng cộng", total.staff, *figures(total, [])],
    )
    pdf.ln(2)
    pdf.notice(RATE_NOTE)
    pdf.signatures(roles)
    titles = data.titles or {}
    columns = _pdf_columns(pdf, PERSON_HEADERS, {1: 14, 2: 30, 3: 16, len(PERSON_HEADERS) - 1: 50})
    for unit in data.units:
        people = members.get(unit.key, [])
        _pdf_section(pdf, header, unit.name)
        _pdf_table(
            pdf,
            columns,
            [
                [i, p.code, p.name, titles.get(p.key, ""), *figures(p, person_flags(p, t))]
                for i, p in enumerate(people, start=1)
            ],
            ["", "", f"Cộng ({len(people)} người)", "", *figures(unit, [])],
        )
        pdf.ln(2)
        pdf.notice(RATE_NOTE)
        pdf.signatures(roles)
    return pdf.output_bytes()
