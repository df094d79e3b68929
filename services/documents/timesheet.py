"""Bảng chấm công, mẫu C01a-HD (chế độ kế toán hành chính, sự nghiệp: Thông tư
24/2024/TT-BTC, which replaced Thông tư 107/2017/TT-BTC from 01/01/2025): a row per person,
a column per day with the form's symbols, the "Quy ra công" totals, three signatures.

The symbol table is configuration (``Symbols``) with the form's defaults, its whole legend
printed; docs/documents.md lists them, their sources, and the four the form lacks (business
trip, other excuse, holiday, unexcused absence).
"""

from __future__ import annotations

import calendar
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from kycuong.labels import vn_number
from services.documents.header import DocumentHeader
from services.documents.sheets import (
    add_sheet,
    row_points,
    sheet_titles,
    signature_blocks,
    text_lines,
    workbook,
)
from store.timesheets import DayMark, PersonMonth

if TYPE_CHECKING:
    from services.documents.streamed import StreamedSheet

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
    bucket: str | None  # None: on the form's legend, never produced here, counted nowhere


# The form's legend, in its order (docs/documents.md: the sources and what is not verified),
# then the four the form lacks. The kinds of the form's own that the software never produces
# (con ốm, tai nạn, ngừng việc, lao động nghĩa vụ) are printed in the legend all the same: a
# person filling a cell by hand finds the symbol on the sheet.
DEFAULT_SYMBOLS: dict[str, Symbol] = {
    "present": Symbol("+", "Lương thời gian", TIME_PAY),
    "sick_leave": Symbol("Ô", "Ốm, điều dưỡng", INSURANCE),
    "child_sick": Symbol("Cô", "Con ốm", None),
    "maternity": Symbol("TS", "Thai sản", INSURANCE),
    "accident": Symbol("T", "Tai nạn", None),
    "annual_leave": Symbol("P", "Nghỉ phép", TIME_PAY),
    "personal_paid": Symbol("P", "Nghỉ phép", TIME_PAY),
    "training": Symbol("H", "Hội nghị, học tập", TIME_PAY),
    "outside_meeting": Symbol("H", "Hội nghị, học tập", TIME_PAY),
    "compensatory_day": Symbol("NB", "Nghỉ bù", TIME_PAY),
    "unpaid_leave": Symbol("KL", "Nghỉ không lương", UNPAID),
    "work_stoppage": Symbol("N", "Ngừng việc", None),
    "labour_duty": Symbol("LĐ", "Lao động nghĩa vụ", None),
    # not on the form: ours
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
        """The defaults with the codes of ``overrides`` (kind → code); a kind the table does
        not have is an error (a misspelt key would silently print the default)."""
        table = dict(DEFAULT_SYMBOLS)
        unknown = sorted(set(overrides) - set(table))
        if unknown:
            raise ValueError(f"không có loại ngày {', '.join(unknown)} trong bảng ký hiệu")
        for kind, code in overrides.items():
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
    excused = [t.get(kind, t["other"]) for _, kind in mark.excused]
    if mark.status == "absent":
        # the sessions not covered by an approved excuse (a morning's leave, then absent in
        # the afternoon: "P/V", half a day in each column, as the summaries count it)
        covered = [(s, 0.5) for s in excused[:1]]
        rest = 1.0 - sum(share for _, share in covered)
        if mark.absence_review == "dismissed":
            return [(t["present"], rest), *covered]
        if mark.absence_review == "excused":
            return [*covered, (t.get(mark.absence_reason or "other", t["other"]), rest)]
        return [*covered, (t["absent"], rest)]
    if mark.status == "on_leave":
        share = 1.0 / len(excused) if excused else 1.0
        return [(s, share) for s in excused] or [(t["other"], 1.0)]
    # present or late, possibly with an excused session (a half day's leave or trip) or an
    # unexcused absent session (the other half)
    parts: list[tuple[Symbol, float]] = []
    if excused:
        share = 1.0 / max(2, len(excused) + 1)
        parts += [(s, share) for s in excused]
    if mark.absent_share:
        parts.append((t["absent"], mark.absent_share))
    worked = 1.0 - sum(share for _, share in parts)
    return [(t["present"], round(worked, 2)), *parts] if worked > 0 else parts


UNTRACKED = "–"  # a working day before the agency's tracking start (chưa theo dõi)


def month_title(
    year: int, month: int, through: date | None = None, tracked_from: date | None = None
) -> str:
    """ "Tháng 12 năm 2026", and for a month not over "… (số liệu đến hết ngày 15/12/2026)":
    the days after it are blank because they have not been worked yet, not because nobody came.
    ``tracked_from``: the tracking start (ngày bắt đầu theo dõi) when it falls after the 1st,
    "· Theo dõi từ 01/12/2026" after the title (the days before it are not judged)."""
    title = f"Tháng {month:02d} năm {year}"
    if through:
        title = f"{title} (số liệu đến hết ngày {through:%d/%m/%Y})"
    if tracked_from and tracked_from > date(year, month, 1):
        title = f"{title} · Theo dõi từ {tracked_from:%d/%m/%Y}"
    return title


def legend_lines(symbols: Symbols, tracked_from: date | None) -> list[tuple[str, str]]:
    """The legend, with "Chưa theo dõi" when some days precede the tracking start."""
    legend = symbols.legend()
    if tracked_from:
        legend.append((UNTRACKED, f"Chưa theo dõi (trước {tracked_from:%d/%m/%Y})"))
    return legend


def _untracked_cell(day: date, symbols: Symbols, days_off: Mapping[date, str]) -> str:
    """A day before the tracking start: a weekend blank as usual, a holiday its symbol, any
    other day ``UNTRACKED``; none is counted in Quy ra công (nothing was judged)."""
    if day.weekday() >= 5:
        return ""
    if day in days_off:
        return symbols.table["holiday"].code
    return UNTRACKED


def _cell(parts: list[tuple[Symbol, float]]) -> str:
    codes: list[str] = []
    for symbol, _ in parts:
        if symbol.code not in codes:
            codes.append(symbol.code)
    return "/".join(codes)


def build_rows(
    people: Sequence[PersonMonth],
    year: int,
    month: int,
    symbols: Symbols,
    tracked_from: date | None = None,
    days_off: Mapping[date, str] | None = None,
) -> list[Row]:
    """The form's rows for a month: symbols per day and Quy ra công per bucket.

    ``tracked_from``: the agency's tracking start; an earlier day is blank on a weekend, the
    holiday symbol on a day of ``days_off`` (date → name), ``UNTRACKED`` otherwise, and is
    counted nowhere.

    A day's cell depends only on what its mark records, not on the date: each distinct record
    is worked out once (a province's million days are a few dozen distinct ones), and a mark
    object met again (``month_marks`` shares them) is found by its identity."""
    days = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    before = [
        _untracked_cell(day, symbols, days_off or {})
        for day in days
        if tracked_from is not None and day < tracked_from
    ]
    days = days[len(before) :]
    by_record: dict[object, Worked] = {}
    by_mark: dict[int, Worked] = {}
    known: list[DayMark | None] = []  # the marks whose ids key by_mark, alive while it is
    rows = []
    for person in people:
        totals = dict.fromkeys(BUCKETS, 0.0)
        cells = list(before)
        marks = person.days
        for day in days:
            mark = marks.get(day)
            found = by_mark.get(id(mark))
            if found is None:
                key = None if mark is None else _record(mark)
                found = by_record.get(key)
                if found is None:
                    found = by_record[key] = _worked(mark, symbols)
                by_mark[id(mark)] = found
                known.append(mark)
            cell, shares = found
            for bucket, share in shares:
                totals[bucket] += share
            cells.append(cell)
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


Worked = tuple[str, tuple[tuple[str, float], ...]]  # a day's cell and its Quy ra công shares


def _record(mark: DayMark) -> tuple[object, ...]:
    """What a day's cell depends on."""
    return (mark.status, mark.excused, mark.absence_review, mark.absence_reason, mark.absent_share)


def _worked(mark: DayMark | None, symbols: Symbols) -> Worked:
    parts = day_parts(mark, symbols)
    shares = tuple((symbol.bucket, share) for symbol, share in parts if symbol.bucket)
    return _cell(parts), shares


ROLES = ("Người chấm công", "Phụ trách bộ phận", "Người duyệt")
SIZE = 10  # points, every text of the form but the title
# column widths (characters): "Phó Trưởng phòng" holds on one line of the chức vụ column
NAME, TITLE_WIDTH, BUCKET_WIDTH, DAY_WIDTH = 24, 18, 10, 3.6


class _Formats:
    def __init__(self, book: Any) -> None:
        base = {"font_name": "Times New Roman", "font_size": SIZE}
        self.bold = book.add_format({**base, "bold": True})
        self.italic = book.add_format({**base, "italic": True})
        self.bold_center = book.add_format({**base, "bold": True, "align": "center"})
        self.source = book.add_format(
            {**base, "italic": True, "align": "center", "valign": "top", "text_wrap": True}
        )
        self.plain = book.add_format(base)
        self.italic_center = book.add_format({**base, "italic": True, "align": "center"})
        self.title = book.add_format({**base, "bold": True, "size": 14, "align": "center"})
        self.center = book.add_format({**base, "align": "center"})
        box = {**base, "border": 1, "valign": "vcenter"}
        self.head = book.add_format(
            {**box, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#DDEBF7"}
        )
        self.name = book.add_format({**box, "text_wrap": True})
        self.day = book.add_format({**box, "align": "center"})
        self.total = book.add_format({**box, "bold": True, "align": "center"})


def _write_unit(
    ws: StreamedSheet,
    f: _Formats,
    header: DocumentHeader,
    unit_name: str,
    year: int,
    month: int,
    rows: Sequence[Row],
    symbols: Symbols,
    through: date | None = None,
    tracked_from: date | None = None,
) -> None:
    """The form on one sheet, rows in order (constant memory: a province has a thousand units)."""
    ndays = calendar.monthrange(year, month)[1]
    last = 2 + ndays + len(BUCKETS)  # zero-based index of the last column
    form_col = last - 8
    head = 7  # zero-based: the heading rows are 8, 9 and 10 of the sheet
    ws.set_column(0, 0, 5)
    ws.set_column(1, 1, NAME)
    ws.set_column(2, 2, TITLE_WIDTH)
    ws.set_column(3, 2 + ndays, DAY_WIDTH)
    ws.set_column(3 + ndays, last, BUCKET_WIDTH)
    ws.write_values(0, 0, [f"Đơn vị: {header.agency}"], f.bold)
    ws.merge_values(0, form_col, last, FORM, f.bold_center)
    # the circular's line wraps in the form's corner, two lines, not spilling past the table
    corner = 5 * DAY_WIDTH + len(BUCKETS) * BUCKET_WIDTH
    ws.set_row(1, row_points(text_lines(FORM_SOURCE, corner, SIZE), SIZE))
    ws.write_values(1, 0, [f"Bộ phận: {unit_name}"], f.plain)
    ws.merge_values(1, form_col, last, FORM_SOURCE, f.source)
    ws.write_values(2, 0, ["Mã QHNS: ................"], f.plain)
    ws.set_row(4, row_points(1, 14))
    ws.merge_values(4, 0, last, TITLE, f.title)
    ws.merge_values(5, 0, last, month_title(year, month, through, tracked_from), f.center)
    # The form's headings: STT, Họ và tên and the chức vụ over two rows, the days and the
    # Quy ra công over their columns; the rows as tall as the wrapped headings.
    first_three = ["STT", "Họ và tên", "Ngạch, bậc lương hoặc cấp bậc, chức vụ"]
    tall = text_lines(first_three[2], TITLE_WIDTH, SIZE, bold=True)
    buckets = max(text_lines(b, BUCKET_WIDTH, SIZE, bold=True) for b in BUCKETS.values())
    ws.set_row(head + 1, row_points(max(buckets, tall - 1), SIZE))
    for col, text in enumerate(first_three):
        ws.merge_values(head, col, col, text, f.head, last_row=head + 1)
    ws.merge_values(head, 3, 2 + ndays, "Ngày trong tháng", f.head)
    ws.merge_values(head, 3 + ndays, last, "Quy ra công", f.head)
    ws.write_values(head + 1, 0, ["", "", "", *range(1, ndays + 1), *BUCKETS.values()], f.head)
    letters = ["A", "B", "C", *[str(d) for d in range(1, ndays + len(BUCKETS) + 1)]]
    ws.write_values(head + 2, 0, letters, f.head)
    r = head + 3
    for i, row in enumerate(rows, start=1):
        lines = max(text_lines(row.name, NAME, SIZE), text_lines(row.title, TITLE_WIDTH, SIZE))
        if lines > 1:  # a long name or chức vụ wraps in its cell
            ws.set_row(r, row_points(lines, SIZE))
        ws.write_values(r, 0, (i, row.name, row.title or ""), f.name, f.day)  # the number in f.day
        ws.write_values(r, 3, (*row.cells, *row.totals.values()), f.day)
        r += 1
    sums = [round(sum(row.totals[b] for row in rows), 2) for b in BUCKETS]
    ws.write_values(r, 0, ["", "Cộng", "", *([""] * ndays), *sums], f.total)
    r += 2
    # three signature blocks side by side, each centred over a third of the table's width,
    # the date over the last (Người duyệt), as the form prints them
    widths = [5, NAME, TITLE_WIDTH, *[DAY_WIDTH] * ndays, *[BUCKET_WIDTH] * len(BUCKETS)]
    blocks = signature_blocks(widths, 3)
    ws.merge_values(r, *blocks[-1], header.dated_line(), f.italic_center)
    for (first, last_col), role in zip(blocks, ROLES, strict=True):
        ws.merge_values(r + 1, first, last_col, role, f.bold_center)
    for first, last_col in blocks:
        ws.merge_values(r + 2, first, last_col, "(Ký, họ tên)", f.italic_center)
    r += 7
    ws.write_values(r, 0, ["Ký hiệu chấm công:"], f.bold)
    legend = legend_lines(symbols, tracked_from)
    per_column = (len(legend) + 2) // 3
    for n in range(per_column):
        for k in range(3):
            m = k * per_column + n
            if m < len(legend):
                code, label = legend[m]
                ws.write_values(r + 1 + n, 1 + k * (ndays // 3), [f"- {label}: {code}"], f.plain)
    ws.freeze_panes(head + 3, 3)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(head, head + 2)
    ws.set_margins(left=0.4, right=0.4)
    ws.set_footer("&CTrang &P / &N")
    ws.finish()


def to_xlsx(
    header: DocumentHeader,
    units: Sequence[tuple[str, Sequence[Row]]],
    year: int,
    month: int,
    symbols: Symbols,
    through: date | None = None,
    tracked_from: date | None = None,
) -> bytes:
    """One sheet per unit: the form with its header, rows, Cộng, signatures and legend;
    ``through``: the last day counted of a month not over; ``tracked_from``: the tracking
    start when it falls in the month (the title and the legend say so)."""
    out = io.BytesIO()
    book = workbook(out)
    f = _Formats(book)
    for title, (unit_name, rows) in zip(sheet_titles([n for n, _ in units]), units, strict=True):
        _write_unit(
            add_sheet(book, title),
            f,
            header,
            unit_name,
            year,
            month,
            rows,
            symbols,
            through,
            tracked_from,
        )
    book.close()
    return out.getvalue()


def to_pdf(
    header: DocumentHeader,
    units: Sequence[tuple[str, Sequence[Row]]],
    year: int,
    month: int,
    symbols: Symbols,
    through: date | None = None,
    tracked_from: date | None = None,
) -> bytes:
    """The form on A4 landscape, one unit after another (each on its own pages);
    ``through``, ``tracked_from``: as :func:`to_xlsx`."""
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
        pdf.paragraph(120, 4.2, f"Đơn vị: {header.agency}\nBộ phận: {unit_name}\nMã QHNS: ........")
        pdf.set_xy(pdf.w - pdf.r_margin - 110, y)
        pdf.set_font(FAMILY, "B", 8.5)
        pdf.cell(110, 4.2, FORM, align="C", new_x="LEFT", new_y="NEXT")
        pdf.set_font(FAMILY, "I", 7.5)
        pdf.paragraph(110, 3.8, FORM_SOURCE, align="C")
        pdf.set_y(max(pdf.get_y(), y + 14))
        pdf.centered(TITLE, "B", 13, 6)
        pdf.centered(month_title(year, month, through, tracked_from), "", 9, 5)
        pdf.ln(1)
        columns = [
            Column(h, w, "L" if i in (1, 2) else "C", wrap=i in (1, 2))
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        ]
        body = (
            [str(i), row.name, row.title, *row.cells, *(vn_number(v) for v in row.totals.values())]
            for i, row in enumerate(rows, start=1)
        )
        sums = [vn_number(round(sum(r.totals[b] for r in rows), 2)) for b in BUCKETS]
        draw_grid(pdf, FAMILY, columns, body, ["", "Cộng", "", *([""] * ndays), *sums])
        pdf.ln(3)
        pdf.signatures(
            [
                *((role, "(Ký, họ tên)") for role in ROLES),
            ],
            header.dated_line(),
        )
        pdf.set_font(FAMILY, "B", 7.5)
        pdf.cell(0, 4, "Ký hiệu chấm công:", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 7.5)
        legend = legend_lines(symbols, tracked_from)
        per_row = 4
        for start in range(0, len(legend), per_row):
            chunk = legend[start : start + per_row]
            for code, label in chunk:
                pdf.cell(usable / per_row, 3.8, f"- {label}: {code}")
            pdf.ln(3.8)
    return pdf.output_bytes()
