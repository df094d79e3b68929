"""The documents offices file, opened as their readers open them: the bảng chấm công and the
discipline report of a hand-made month (tests/integration/month.py) against values by hand."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from services.documents import discipline_report, timesheet
from services.documents.header import DocumentHeader
from store.db import db_session
from store.summaries import Thresholds, person_lines, total_line, unit_lines
from store.timesheets import month_marks
from tests.integration.month import ABSENT, HOLIDAY, LATE_DAY, NOW, SICK_DAY, TRIP, make_month
from tests.unit.days import TZ

HEADER = DocumentHeader(
    agency="Sở Thử nghiệm",
    unit="Phòng Một",
    recipient="Sở Nội vụ",
    period_label="Tháng 11/2026 (từ 01/11/2026 đến 30/11/2026)",
    generated=NOW.astimezone(TZ),
)


@pytest.fixture(params=["sqlite_engine", "pg_engine"])
def month(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(request.param)
    make_month(engine)
    return engine


def _row_of(ws: Any, name: str) -> int:
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == name:
                return int(cell.row)
    raise AssertionError(f"{name} not on {ws.title}")


def test_the_timesheet_of_the_hand_made_month_has_the_forms_symbols_and_totals(
    month: Engine,
) -> None:
    with db_session(month) as db:
        people = month_marks(db, None, date(2026, 11, 1), date(2026, 11, 30))
    symbols = timesheet.Symbols()
    rows = timesheet.build_rows(people, 2026, 11, symbols)
    by_code = {r.code: r for r in rows}
    on_time, mixed, absent = by_code["E0000"], by_code["E0001"], by_code["E0002"]

    def cell(row: timesheet.Row, day: date) -> str:
        return row.cells[day.day - 1]

    assert cell(on_time, date(2026, 11, 2)) == "+"
    assert cell(on_time, date(2026, 11, 1)) == ""  # Sunday
    assert cell(on_time, HOLIDAY) == "L"
    assert cell(mixed, LATE_DAY) == "+"  # late is still a day worked
    assert cell(mixed, SICK_DAY) == "Ô"
    assert [cell(mixed, d) for d in TRIP] == ["CT", "CT"]
    assert [cell(absent, d) for d in ABSENT] == ["V", "V"]
    # By hand: 20 working days + 1 holiday paid; E0001 one sick day (BHXH);
    # E0002 two unexcused days (unpaid).
    assert on_time.totals == {"time_pay": 21.0, "unpaid": 0.0, "insurance": 0.0}
    assert mixed.totals == {"time_pay": 20.0, "unpaid": 0.0, "insurance": 1.0}
    assert absent.totals == {"time_pay": 19.0, "unpaid": 2.0, "insurance": 0.0}
    assert on_time.cells.count("+") == 20 and absent.cells.count("+") == 18

    content = timesheet.to_xlsx(HEADER, [("Phòng Một", rows)], 2026, 11, symbols)
    ws: Any = load_workbook(io.BytesIO(content))["Phòng Một"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "BẢNG CHẤM CÔNG" in texts and "Mẫu số C01a-HD" in texts
    assert {"Người chấm công", "Phụ trách bộ phận", "Người duyệt", "Quy ra công"} <= set(texts)
    assert "Tháng 11 năm 2026" in texts
    r = _row_of(ws, "Nguyễn Văn 2")
    assert ws.cell(r, 3).value == "Cán sự"
    assert ws.cell(r, 3 + 16).value == "V"
    assert [ws.cell(r, 3 + 30 + i).value for i in (1, 2, 3)] == [19, 2, 0]
    total = _row_of(ws, "Cộng")
    assert [ws.cell(total, 3 + 30 + i).value for i in (1, 2, 3)] == [60, 2, 1]
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9


def test_the_discipline_report_is_a_document_whose_totals_are_the_sums_of_its_rows(
    month: Engine,
) -> None:
    thresholds = Thresholds(month_days=2, year_days=20, consecutive_days=2)
    with db_session(month) as db:
        people = person_lines(db, date(2026, 11, 1), date(2026, 11, 30), None, thresholds)
    units = unit_lines(people, thresholds)
    for u in units:
        u.code = "P1"
    data = discipline_report.ReportData(units, people, total_line(units), thresholds)
    book = load_workbook(io.BytesIO(discipline_report.to_xlsx(HEADER, data)))
    assert book.sheetnames == ["Tổng hợp", "Phòng Một"]
    ws: Any = book["Phòng Một"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "SỞ THỬ NGHIỆM",
        "BÁO CÁO TÌNH HÌNH CHẤP HÀNH KỶ LUẬT, KỶ CƯƠNG HÀNH CHÍNH\nPhòng Một",
        "Kỳ báo cáo: Tháng 11/2026 (từ 01/11/2026 đến 30/11/2026)",
        "Kính gửi: Sở Nội vụ",
        "Thời điểm lập: 08:00 ngày 01/12/2026",
        "Người lập biểu",
        "Thủ trưởng đơn vị",
    ):
        assert expected in texts, expected
    headers = [c.value for c in ws[9]]
    col = {h: i for i, h in enumerate(headers)}
    assert "Tổng số CBCCVC" not in col  # no staff count on a person's row
    rows = {r[1]: r for r in ws.iter_rows(min_row=10, values_only=True) if r[1]}
    late, absent = rows["E0001"], rows["E0002"]
    # By hand: 20 working days each; E0001 17 present, 1 late of 20 min, sick 1, trip 2.
    assert late[col["Số ngày làm việc"]] == 20 and late[col["Số ngày có mặt"]] == 17
    assert (late[col["Đi muộn (lượt)"]], late[col["Đi muộn (phút)"]]) == (1, 20)
    assert (late[col["Nghỉ có lý do: ốm"]], late[col["Nghỉ có lý do: công tác"]]) == (1, 2)
    assert late[col["Số lượt vi phạm tính tỷ lệ"]] == 1
    assert late[col["Tỷ lệ vi phạm (lượt/100 ngày làm việc)"]] == 5.0
    assert absent[col["Nghỉ không lý do (ngày)"]] == 2
    assert absent[col["Tỷ lệ vi phạm (lượt/100 ngày làm việc)"]] == 10.0
    flags = absent[col["Ghi chú (vượt ngưỡng kỷ luật)"]].split("\n")
    assert flags == [
        "Nghỉ không lý do 2 ngày trong một tháng (ngưỡng 2 ngày/tháng)",
        "Nghỉ không lý do 2 ngày liên tục (ngưỡng 2 ngày)",
    ]
    total = next(r for r in ws.iter_rows(min_row=10, values_only=True) if r[2] == "Cộng (3 người)")
    person_rows = [r for r in ws.iter_rows(min_row=10, values_only=True) if isinstance(r[0], int)]
    for name in ("Số ngày làm việc", "Số ngày có mặt", "Đi muộn (lượt)", "Nghỉ không lý do (ngày)"):
        assert total[col[name]] == sum(r[col[name]] for r in person_rows), name
    assert total[col["Tỷ lệ vi phạm (lượt/100 ngày làm việc)"]] == 5.0  # (1 + 2) / 60 × 100

    summary: Any = book["Tổng hợp"]
    unit_headers = [c.value for c in summary[9]]
    ucol = {h: i for i, h in enumerate(unit_headers)}
    unit_row = next(r for r in summary.iter_rows(min_row=10, values_only=True) if r[1] == "P1")
    assert unit_row[ucol["Tổng số CBCCVC"]] == 3
    # the totals sheet counts the people per threshold; their names are on the unit's sheet
    assert unit_row[ucol["Ghi chú (vượt ngưỡng kỷ luật)"]].split("\n") == [
        "1 người đạt ngưỡng nghỉ không lý do 2 ngày/tháng",
        "1 người đạt ngưỡng nghỉ không lý do 2 ngày liên tục",
    ]
    totals = next(r for r in summary.iter_rows(min_row=10, values_only=True) if r[2] == "Tổng cộng")
    assert totals[ucol["Số ngày làm việc"]] == 60
    assert ws.print_title_rows == "$9:$9"
    setup = summary.page_setup  # fit to one page wide (1 is the default), any number tall
    assert summary.sheet_properties.pageSetUpPr.fitToPage and setup.fitToHeight == 0
    assert (setup.paperSize, setup.orientation, setup.fitToWidth or 1) == (9, "landscape", 1)
    assert summary.oddFooter.center.text == "Trang &P / &N"


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_discipline_report_pdf_carries_the_blocks_and_the_figures_with_diacritics(
    month: Engine, tmp_path: Path
) -> None:
    thresholds = Thresholds(month_days=2, year_days=20, consecutive_days=2)
    with db_session(month) as db:
        people = person_lines(db, date(2026, 11, 1), date(2026, 11, 30), None, thresholds)
    units = unit_lines(people, thresholds)
    for u in units:
        u.code = "P1"
    content = discipline_report.to_pdf(
        HEADER, discipline_report.ReportData(units, people, total_line(units), thresholds)
    )
    assert content.startswith(b"%PDF")
    text = " ".join(_pdf_text(content).split())  # cells wrap: compare words
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "BÁO CÁO TÌNH HÌNH CHẤP HÀNH KỶ LUẬT, KỶ CƯƠNG HÀNH CHÍNH",
        "Kính gửi: Sở Nội vụ",
        "Nguyễn Văn 2",
        "Nghỉ không lý do 2 ngày liên tục (ngưỡng 2 ngày)",
        "Người lập biểu",
        "Thủ trưởng đơn vị",
        "Trang 1/2",
    ):
        assert expected in text, expected
    (tmp_path / "report.pdf").write_bytes(content)
    save_png(content, "report")


def save_png(content: bytes, name: str) -> None:
    """Render the first page with pdftoppm (when installed) for a person to look at."""
    out = Path(os.environ.get("KC_DOCUMENT_PNG_DIR", "/tmp")) / f"kycuong-{name}"
    if shutil.which("pdftoppm"):
        pdf = out.with_suffix(".pdf")
        pdf.write_bytes(content)
        subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(out)], check=True)


def test_the_timesheet_pdf_has_the_form_the_symbols_and_the_signatures(month: Engine) -> None:
    with db_session(month) as db:
        people = month_marks(db, None, date(2026, 11, 1), date(2026, 11, 30))
    symbols = timesheet.Symbols()
    rows = timesheet.build_rows(people, 2026, 11, symbols)
    content = timesheet.to_pdf(HEADER, [("Phòng Một", rows)], 2026, 11, symbols)
    text = " ".join(_pdf_text(content).split())
    for expected in (
        "Mẫu số C01a-HD",
        "BẢNG CHẤM CÔNG",
        "Tháng 11 năm 2026",
        "Bộ phận: Phòng Một",
        "Phó Trưởng phòng",
        "Người chấm công",
        "Phụ trách bộ phận",
        "Người duyệt",
        "Ốm, điều dưỡng: Ô",
        "Vắng không lý do: V",
    ):
        assert expected in text, expected
    save_png(content, "timesheet")


def test_every_unit_in_scope_has_its_row_on_the_totals_sheet_even_with_no_one_or_no_record(
    month: Engine,
) -> None:
    """A unit with nobody, and one whose only person has no day record in the month, are on
    the totals sheet with zeros and a note, and each has its sheet; the units with records
    keep their figures and the total is still their sum."""
    from services.documents.files import report_file
    from services.documents.period import report_period
    from store.models import Agency, Employee, Unit

    with db_session(month) as db:
        agency_id = db.scalars(select(Agency.id)).one()
        empty = Unit(agency_id=agency_id, code="P2", name="Phòng Hai (chưa có người)")
        idle = Unit(agency_id=agency_id, code="P3", name="Phòng Ba")
        db.add_all([empty, idle])
        db.flush()
        db.add(
            Employee(
                code="E9000", full_name="Lê Văn Mới", unit_id=idle.id, active_from=date(2026, 12, 1)
            )
        )
    period = report_period("month", 2026, 11, None, date(2026, 12, 1))
    with db_session(month) as db:
        content = report_file(db, None, period, Thresholds(), HEADER, "xlsx").content
    book = load_workbook(io.BytesIO(content))
    assert sorted(book.sheetnames) == sorted(
        ["Tổng hợp", "Phòng Một", "Phòng Hai (chưa có người)", "Phòng Ba"]
    )
    summary: Any = book["Tổng hợp"]
    ucol = {h: i for i, h in enumerate(c.value for c in summary[9])}
    rows = {r[1]: r for r in summary.iter_rows(min_row=10, values_only=True) if type(r[0]) is int}
    assert set(rows) == {"P1", "P2", "P3"}
    for code in ("P2", "P3"):
        row = rows[code]
        assert row[ucol["Tổng số CBCCVC"]] == 0 and row[ucol["Số ngày làm việc"]] == 0
        assert row[ucol["Tỷ lệ vi phạm (lượt/100 ngày làm việc)"]] == 0
        assert row[ucol["Ghi chú (vượt ngưỡng kỷ luật)"]] == "Không có dữ liệu chấm công trong kỳ"
    assert rows["P1"][ucol["Số ngày làm việc"]] == 60  # the month's three people, as before
    assert next(iter(rows)) == "P1"  # ranked by rate: the units with violations first
    totals = next(r for r in summary.iter_rows(min_row=10, values_only=True) if r[2] == "Tổng cộng")
    assert totals[ucol["Số ngày làm việc"]] == 60 and totals[ucol["Tổng số CBCCVC"]] == 3
    idle_sheet: Any = book["Phòng Ba"]
    assert any(r[2] == "Cộng (0 người)" for r in idle_sheet.iter_rows(values_only=True))


def test_the_timesheet_reads_one_snapshot_even_if_the_runner_commits_between_its_reads(
    month: Engine,
) -> None:
    """The day records are read in several statements (people, reviews of absences, plain
    days' masks, the other days). A runner's commit lands right after the reviews are read:
    E0002's unexcused 16/11 becomes approved leave. The bảng chấm công still shows the state
    all its reads saw, V; under READ COMMITTED the later read said P beside a review read
    before it (on PostgreSQL; on SQLite each read outside a transaction sees the latest)."""
    from sqlalchemy import event, text

    day = ABSENT[0]
    change = text(
        "UPDATE day_records SET status = 'on_leave', excused = 'morning:annual_leave,"
        "afternoon:annual_leave' WHERE day = :day AND employee_id = "
        "(SELECT id FROM employees WHERE code = 'E0002')"
    )
    committed: list[str] = []

    def runner_commits(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if committed or "FROM violations" not in statement:
            return
        committed.append(statement)
        with month.connect() as other:  # another connection, as the runner's process
            assert other.execute(change, {"day": day}).rowcount == 1
            other.commit()

    event.listen(month, "after_cursor_execute", runner_commits)
    try:
        with db_session(month) as db:
            people = month_marks(db, None, date(2026, 11, 1), date(2026, 11, 30))
    finally:
        event.remove(month, "after_cursor_execute", runner_commits)
    assert committed, "the commit happened between the reads"
    rows = {r.code: r for r in timesheet.build_rows(people, 2026, 11, timesheet.Symbols())}
    assert rows["E0002"].cells[day.day - 1] == "V"
    assert rows["E0002"].totals["unpaid"] == 2.0
    with db_session(month) as db:  # the next bảng chấm công sees the runner's commit
        people = month_marks(db, None, date(2026, 11, 1), date(2026, 11, 30))
    rows = {r.code: r for r in timesheet.build_rows(people, 2026, 11, timesheet.Symbols())}
    assert rows["E0002"].cells[day.day - 1] == "P"
