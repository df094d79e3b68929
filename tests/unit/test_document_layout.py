"""The documents as they print: a row whose text wraps is as tall as its lines (a spreadsheet
never fits a merged cell, and XlsxWriter writes no height unless told), headings merged as
the form has them, A4 print setup with the header rows repeated and page numbers."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from openpyxl import load_workbook

from services.documents import discipline_report, timesheet
from services.documents.header import DocumentHeader
from services.documents.sheets import column_points, row_points, text_lines
from store.summaries import Line, Thresholds, total_line
from store.timesheets import DayMark, PersonMonth

HEADER = DocumentHeader(
    agency="Sở Tài nguyên và Môi trường tỉnh Thử Nghiệm " * 3,  # a name longer than its block
    recipient="Sở Nội vụ",
    period_label="Tháng 11/2026 (từ 01/11/2026 đến 30/11/2026)",
    generated=datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
)
LONG_TITLE = "Phó Trưởng phòng phụ trách kế toán, kiêm thủ quỹ"


def _height(ws: Any, row: int) -> float | None:
    """The height a sheet sets on a row (1-based), None when it keeps the default."""
    dimension = ws.row_dimensions.get(row)
    return None if dimension is None else dimension.ht


def _report() -> Any:
    unit = Line(key=1, name="Phòng Một", unit_id=1, unit_name="Phòng Một", code="P1")
    plain = Line(key=10, name="Trần Văn Bình", code="E1", unit_id=1, staff=1, working_days=20)
    flagged = Line(
        key=11,
        name="Hoàng Thị Lan",
        code="E2",
        unit_id=1,
        staff=1,
        working_days=20,
        absent_days=20,
        max_month_absent_days=20,
        max_consecutive_absent_days=7,
    )
    for person in (plain, flagged):
        unit.add(person)
    data = discipline_report.ReportData(
        [unit], [plain, flagged], total_line([unit]), Thresholds(), {11: LONG_TITLE}
    )
    return load_workbook(io.BytesIO(discipline_report.to_xlsx(HEADER, data)))


def test_text_wider_than_its_column_takes_more_lines() -> None:
    assert text_lines("STT", 5) == 1
    assert text_lines("Nghỉ không lý do (ngày)", 10, bold=True) >= 2
    assert text_lines("Nghỉ không lý do (ngày)", 30, bold=True) == 1
    assert text_lines("một\nhai\nba", 40) == 3  # each flag on its own line
    assert text_lines("x" * 200, 10) >= 200 * 500 * 11 / 1000 // column_points(10)
    assert text_lines("Trưởng phòng", 30) == 1 < text_lines("Trưởng phòng", 5)
    assert row_points(3) > row_points(2) > row_points(1) >= 15


def test_report_rows_whose_text_wraps_are_as_tall_as_their_lines() -> None:
    book = _report()
    unit_sheet = book.worksheets[1]
    headings = [c.value for c in unit_sheet[9]]
    assert headings[:3] == ["STT", "Mã cán bộ", "Họ và tên"]
    # the heading row: "Tỷ lệ vi phạm (lượt/100 ngày làm việc)" in a column 10 wide
    lines = text_lines(discipline_report.FIGURES[-2], 10, 11, bold=True)
    assert lines >= 3 and _height(unit_sheet, 9) == row_points(lines)
    plain, flagged = _row_of(unit_sheet, "Trần Văn Bình"), _row_of(unit_sheet, "Hoàng Thị Lan")
    assert _height(unit_sheet, plain) is None  # one line: the default height
    flags = unit_sheet.cell(flagged, len(discipline_report.PERSON_HEADERS)).value
    assert flags.count("\n") == 2  # three thresholds, one per line
    assert _height(unit_sheet, flagged) == row_points(text_lines(flags, 46)) >= row_points(3)
    assert unit_sheet.cell(flagged, 4).value == LONG_TITLE
    # the agency's name, longer than its merged block, wraps in a taller row
    assert "SỞ TÀI NGUYÊN" in str(unit_sheet["A1"].value) and (_height(unit_sheet, 1) or 0) > 30
    assert unit_sheet["A1"].alignment.wrap_text


def test_report_sheets_print_on_a4_landscape_fitted_to_the_width_with_the_header_repeated() -> None:
    for ws in _report().worksheets:
        assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
        assert ws.print_title_rows == "$9:$9"
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text


def _timesheet() -> Any:
    days = {
        date(2026, 11, d): DayMark(date(2026, 11, d), "present", None, (), None, None)
        for d in range(2, 7)
    }
    people = [
        PersonMonth(1, "E1", "Trần Văn Bình", "Chuyên viên", 1, days),
        PersonMonth(2, "E2", "Hoàng Thị Lan", LONG_TITLE, 1, days),
    ]
    symbols = timesheet.Symbols()
    rows = timesheet.build_rows(people, 2026, 11, symbols)
    raw = timesheet.to_xlsx(HEADER, [("Phòng Một", rows)], 2026, 11, symbols)
    return load_workbook(io.BytesIO(raw))["Phòng Một"]


def test_the_timesheet_headings_are_merged_as_the_form_and_tall_enough_for_their_text() -> None:
    ws = _timesheet()
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A8:A9", "B8:B9", "C8:C9", "D8:AG8", "AH8:AJ8"} <= merged
    assert ws["C8"].value == "Ngạch, bậc lương hoặc cấp bậc, chức vụ" and ws["C9"].value is None
    # "Số công hưởng lương thời gian" in a column 10 wide, bold 10 point: several lines
    lines = max(text_lines(b, 10, 10, bold=True) for b in timesheet.BUCKETS.values())
    assert lines >= 3 and _height(ws, 9) == row_points(lines, 10)
    # the circular's line wraps in the form's corner instead of running off the table
    source = next(r for r in ws.merged_cells.ranges if r.min_row == 2)
    assert ws.cell(2, source.min_col).value == timesheet.FORM_SOURCE
    assert source.max_col == 3 + 30 + 3  # to the last column: 30 days of November, 3 totals
    assert (_height(ws, 2) or 0) >= row_points(2, 10)
    plain, long = _row_of(ws, "Trần Văn Bình"), _row_of(ws, "Hoàng Thị Lan")
    assert _height(ws, plain) is None
    assert _height(ws, long) == row_points(text_lines(LONG_TITLE, 18, 10), 10) > row_points(1)
    assert text_lines("Phó Trưởng phòng", timesheet.TITLE_WIDTH, 10) == 1
    assert ws.cell(long, 3).alignment.wrap_text


def test_the_timesheet_prints_on_a4_landscape_with_its_three_heading_rows_repeated() -> None:
    ws = _timesheet()
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0  # 1 wide
    assert ws.print_title_rows == "$8:$10"
    assert "&P" in ws.oddFooter.center.text


def _row_of(ws: Any, value: str) -> int:
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == value:
                return int(cell.row)
    raise AssertionError(f"{value} not on {ws.title}")


def _block_of(ws: Any, text: str) -> Any:
    """The merged range whose first cell holds ``text``."""
    cell = next(c for row in ws.iter_rows() for c in row if c.value == text)
    block = next(r for r in ws.merged_cells.ranges if cell.coordinate in r)
    assert (block.min_row, block.min_col) == (cell.row, cell.column)
    assert cell.alignment.horizontal == "center", text
    return block


def test_the_timesheet_signature_blocks_are_centred_each_over_a_third_of_the_table() -> None:
    ws = _timesheet()
    roles = [_block_of(ws, role) for role in timesheet.ROLES]
    assert len({r.min_row for r in roles}) == 1
    last = 3 + 30 + 3
    assert roles[0].min_col == 1 and roles[-1].max_col == last
    assert [r.min_col for r in roles[1:]] == [r.max_col + 1 for r in roles[:-1]]  # side by side
    notes = [
        r for r in ws.merged_cells.ranges if ws.cell(r.min_row, r.min_col).value == "(Ký, họ tên)"
    ]
    assert sorted((r.min_col, r.max_col) for r in notes) == [(r.min_col, r.max_col) for r in roles]
    dated = _block_of(ws, HEADER.dated_line())
    assert (dated.min_col, dated.max_col) == (roles[-1].min_col, roles[-1].max_col)  # Người duyệt


def test_the_report_signature_blocks_are_centred_under_the_heading_blocks() -> None:
    for ws in _report().worksheets:
        agency = _block_of(ws, HEADER.agency.upper())
        national = _block_of(ws, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
        compiler, head = _block_of(ws, "Người lập biểu"), _block_of(ws, "Thủ trưởng đơn vị")
        assert (compiler.min_col, compiler.max_col) == (agency.min_col, agency.max_col)
        assert (head.min_col, head.max_col) == (national.min_col, national.max_col)


def test_issuing_block_names_the_supervising_body_then_the_issuer_never_twice() -> None:
    from services.documents.header import addressee

    with_parent = DocumentHeader(agency="Sở Nội vụ", parent="UBND tỉnh Vĩnh Phúc")
    assert with_parent.issuer_lines() == ("UBND TỈNH VĨNH PHÚC", "SỞ NỘI VỤ")
    assert DocumentHeader(agency="Sở Nội vụ (demo)").issuer_lines() == ("SỞ NỘI VỤ (DEMO)", "")
    # the recipient: the configured one, else the parent; never the issuer itself
    assert addressee("", "Sở Nội vụ", "UBND tỉnh Vĩnh Phúc") == "UBND tỉnh Vĩnh Phúc"
    assert addressee("Bộ Nội vụ", "Sở Nội vụ", "UBND tỉnh Vĩnh Phúc") == "Bộ Nội vụ"
    assert addressee("Sở Nội vụ", "Sở Nội vụ (demo)", "") == ""
    assert addressee("", "Sở Nội vụ", "") == ""


def test_report_sheets_carry_the_issuer_in_caps_and_the_unit_under_the_title() -> None:
    header = DocumentHeader(agency="Sở Thử nghiệm", parent="UBND tỉnh Thử nghiệm")
    units = [Line(key=1, name="Phòng Một", unit_id=1, unit_name="Phòng Một")]
    data = discipline_report.ReportData(units, [], total_line(units), Thresholds())
    book = load_workbook(io.BytesIO(discipline_report.to_xlsx(header, data)))
    for name in book.sheetnames:
        ws: Any = book[name]
        assert ws["A1"].value == "UBND TỈNH THỬ NGHIỆM" and not ws["A1"].font.b
        assert ws["A2"].value == "SỞ THỬ NGHIỆM" and ws["A2"].font.b
    assert book["Phòng Một"]["A4"].value.endswith("\nPhòng Một")
    assert "\n" not in book["Tổng hợp"]["A4"].value  # the whole agency: the title alone


def test_a_period_begun_before_tracking_says_when_tracking_began() -> None:
    from services.documents.period import report_period, tracking_note, with_tracking

    year = report_period("year", 2026, None, None, date(2026, 12, 2))
    note = tracking_note(year.first, [date(2026, 12, 1)])
    assert note == "Theo dõi từ 01/12/2026"
    assert with_tracking(year.label, note).endswith("· Theo dõi từ 01/12/2026")
    assert tracking_note(date(2026, 12, 1), [date(2026, 12, 1)]) == ""  # tracked all along
    several = tracking_note(year.first, [date(2026, 12, 1), date(2026, 6, 1), date(2025, 1, 1)])
    assert several == "Theo dõi từ 01/12/2026 (cơ quan khác từ 01/06/2026)"


def test_timesheet_days_before_tracking_are_marked_and_counted_nowhere() -> None:
    tracked = date(2026, 11, 18)
    person = PersonMonth(1, "NV1", "Nguyễn Văn A", "", 1, {})
    symbols = timesheet.Symbols()
    row = timesheet.build_rows([person], 2026, 11, symbols, tracked, {date(2026, 11, 3): "Lễ"})[0]
    # 02/11/2026 is a Monday, 01/11 a Sunday, 03/11 a holiday here
    assert row.cells[0] == "" and row.cells[1] == timesheet.UNTRACKED
    assert row.cells[2] == "L"
    assert all(c == "" for c in row.cells[17:])  # from 18/11: no record, blank as usual
    assert all(v == 0 for v in row.totals.values())
    title = timesheet.month_title(2026, 11, None, tracked)
    assert title == "Tháng 11 năm 2026 · Theo dõi từ 18/11/2026"
    raw = timesheet.to_xlsx(HEADER, [("Phòng Một", [row])], 2026, 11, symbols, None, tracked)
    texts = [c.value for r in load_workbook(io.BytesIO(raw)).worksheets[0].iter_rows() for c in r]
    assert title in texts
    assert f"- Chưa theo dõi (trước 18/11/2026): {timesheet.UNTRACKED}" in texts


def test_scores_sheet_rows_are_as_tall_as_their_wrapped_text_and_ruled() -> None:
    from rules.discipline_score import MonthRecord, ScoreRule, Suggestion
    from services import discipline_scores
    from services.discipline_scores import PersonScore
    from services.documents.period import ReportPeriod

    suggestion = Suggestion(5.0, 5.0, (), None, None)
    unit = "Trung tâm Phục vụ hành chính công và Chuyển đổi số cơ sở 2"
    people = [
        PersonScore(1, "E1", "Trần Văn Bình", 1, "P1", unit, MonthRecord(20), suggestion,
                    None, 5.0, None, "", "", None, 5.0),
    ]  # fmt: skip
    period = ReportPeriod("month", date(2026, 12, 1), date(2026, 12, 31), date(2026, 12, 31), "x")
    raw = discipline_scores.to_xlsx(HEADER, period, people, ScoreRule())
    ws = load_workbook(io.BytesIO(raw)).worksheets[0]
    assert ws.print_title_rows == "$9:$9"
    assert (_height(ws, 9) or 0) >= row_points(text_lines("Điểm đề xuất", 10, bold=True)) > 20
    assert (_height(ws, 10) or 0) >= row_points(text_lines(unit, 24)) > row_points(1)
    assert ws.cell(10, 5).border.left.style == "thin"
    assert ws.cell(9, 8).alignment.wrap_text
    # the issuing block as the report's (NĐ 30/2020): supervisor, then the issuer in bold caps
    parented = replace(HEADER, agency="Sở Nội vụ (demo)", parent="UBND tỉnh Phú Thọ", unit="VP")
    first = load_workbook(
        io.BytesIO(discipline_scores.to_xlsx(parented, period, people, ScoreRule()))
    ).worksheets[0]
    assert [first["A1"].value, first["A2"].value] == ["UBND TỈNH PHÚ THỌ", "SỞ NỘI VỤ (DEMO)"]
    assert first["A2"].font.bold and not first["A1"].font.bold
    assert first["A5"].value.startswith("Đơn vị: VP · Kỳ: ")
    alone = load_workbook(
        io.BytesIO(discipline_scores.to_xlsx(HEADER, period, people, ScoreRule()))
    ).worksheets[0]
    assert alone["A1"].font.bold and alone["A2"].value is None
