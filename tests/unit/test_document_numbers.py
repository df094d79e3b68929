"""Numbers written into text a person reads go through one formatter (kycuong.labels.vn_number):
a decimal comma and no needless zeros, the same in the summaries' flags, the report's flags (XLSX
and PDF), its PDF cells and the bảng chấm công's totals."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from kycuong.labels import vn_number
from services.documents import discipline_report
from services.documents.header import DocumentHeader
from store.summaries import Line, Thresholds, flags_for, total_line

HEADER = DocumentHeader(
    agency="Sở Nội vụ",
    recipient="Ủy ban nhân dân tỉnh",
    period_label="Tháng 11/2026 (từ 01/11/2026 đến 30/11/2026)",
    generated=datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
)
HALVES = Thresholds(month_days=0.5, year_days=1.5, consecutive_days=5)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0,5"),
        (5.0, "5"),
        (5, "5"),
        (12.25, "12,25"),
        (1 / 3, "0,33"),
        (1_234_567.0, "1234567"),  # f"{x:g}" wrote 1.23457e+06
        (-0.001, "0"),
        (Decimal("2.50"), "2,5"),  # a SQL sum
    ],
)
def test_a_number_reads_with_a_decimal_comma_and_no_needless_zeros(value: float, text: str) -> None:
    assert vn_number(value) == text


@pytest.mark.parametrize("value", [True, "0.5"])
def test_text_or_a_bool_is_no_number(value: object) -> None:
    with pytest.raises(TypeError):
        vn_number(value)  # type: ignore[arg-type]


def _half_day_person() -> Line:
    return Line(
        key=10,
        name="Trần Văn Bình",
        code="E1",
        unit_id=1,
        staff=1,
        working_days=20,
        present_days=18,
        absent_days=1.5,
        max_month_absent_days=1.5,
    )


def test_a_half_day_flag_reads_0_5_in_the_report_as_in_the_summaries() -> None:
    person = _half_day_person()
    flags = discipline_report.person_flags(person, HALVES)
    assert flags == [
        "Nghỉ không lý do 1,5 ngày trong một tháng (ngưỡng 0,5 ngày/tháng)",
        "Nghỉ không lý do 1,5 ngày trong kỳ (ngưỡng 1,5 ngày)",
    ]
    assert [f.split(" (ngưỡng")[0] for f in flags] == flags_for(person, HALVES)
    assert discipline_report.unit_flags([person], HALVES) == [
        "1 người đạt ngưỡng nghỉ không lý do 0,5 ngày/tháng",
        "1 người đạt ngưỡng nghỉ không lý do 1,5 ngày trong kỳ",
    ]


def _data() -> discipline_report.ReportData:
    person = _half_day_person()
    unit = Line(key=1, name="Phòng Một", unit_id=1, unit_name="Phòng Một", code="P1")
    unit.add(person)
    return discipline_report.ReportData([unit], [person], total_line([unit]), HALVES)


def test_the_report_files_write_no_decimal_point_in_their_text() -> None:
    book = load_workbook(io.BytesIO(discipline_report.to_xlsx(HEADER, _data())))
    texts = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value]
    flags = [t for t in texts if isinstance(t, str) and t.startswith("Nghỉ không lý do 1")]
    assert flags == [
        "Nghỉ không lý do 1,5 ngày trong một tháng (ngưỡng 0,5 ngày/tháng)\n"
        "Nghỉ không lý do 1,5 ngày trong kỳ (ngưỡng 1,5 ngày)"
    ]
    assert 1.5 in texts  # the figures stay numbers in the workbook

    pdf = discipline_report.to_pdf(HEADER, _data())
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "0,5 ngày/tháng" in text and "1,5" in text
    assert "0.5" not in text and "1.5" not in text
