"""The PDFs' ruled table: a heading's word is never cut across two lines, and the report's
columns are wide enough for their headings at the table's size."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from services.documents import discipline_report
from services.documents.grid import Column, draw_grid, heading_width, text_width
from services.documents.pdf import FAMILY, DocumentPdf


def test_a_narrow_column_shrinks_its_heading_rather_than_cut_a_word() -> None:
    pdf = DocumentPdf("L")
    pdf.add_page()
    columns = [
        Column("STT", 7),
        Column("Tổng số CBCCVC", 8.9),
        Column("Nghỉ không lý do (ngày)", 8.9),
        Column("Họ và tên", 40, "L", wrap=True),
    ]
    draw_grid(pdf, FAMILY, columns, [["1", "10", "0", "Nguyễn Thị Ánh Tuyết"]])
    lines = PdfReader(io.BytesIO(pdf.output_bytes())).pages[0].extract_text().split("\n")
    words = {w for line in lines for w in line.split()}
    assert {"CBCCVC", "(ngày)"} <= words, lines
    assert "Nguyễn Thị Ánh Tuyết" in " ".join(lines)


def test_a_cell_width_is_the_width_fpdf2_gives_to_the_last_bit() -> None:
    pdf = DocumentPdf("L")
    pdf.add_page()
    texts = [
        "",
        "0",
        "12,5",
        "+/P",
        "Ô",
        "Nguyễn Thị Ánh Tuyết",
        "Nghỉ không lý do 6 ngày trong một tháng (ngưỡng 5 ngày/tháng)",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    ]
    for style in ("", "B", "I"):
        for size in (4.5, 6.5, 9.0):
            pdf.set_font(FAMILY, style, size)
            for text in texts:
                assert text_width(pdf, text) == pdf.get_string_width(text), (style, size, text)


def test_the_cells_after_a_filled_row_are_not_each_wrapped_in_a_colour_change() -> None:
    pdf = DocumentPdf("L")
    pdf.set_compression(False)
    pdf.add_page()
    columns = [Column("STT", 10), Column("Họ và tên", 60, "L", wrap=True), Column("Số", 10)]
    rows = [[str(i), f"Người {i}", "0"] for i in range(1, 6)]
    draw_grid(pdf, FAMILY, columns, rows, ["", "Cộng", "0"])
    content = pdf.output_bytes()
    assert content.count(b" Tj ET") >= 3 * 5 + 2
    assert b"q 0 g BT" not in content  # fpdf2's per-text colour wrapper
    text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert "Người 5" in text and "Cộng" in text


def _heading_sizes(headers: list[str], widths: list[float]) -> set[float]:
    pdf = DocumentPdf("L")
    pdf.set_compression(False)
    pdf.add_page()
    columns = [Column(h, w) for h, w in zip(headers, widths, strict=True)]
    draw_grid(pdf, FAMILY, columns, [["1"] * len(headers)])
    content = pdf.output_bytes()
    return {float(size) for size in re.findall(rb"/F\d+ ([\d.]+) Tf", content)} - {7.0}  # footer


def test_a_heading_breaks_after_a_slash_rather_than_shrink() -> None:
    rate = "Tỷ lệ vi phạm (lượt/100 ngày làm việc)"
    assert _heading_sizes([rate], [8.95]) == {6.5}


def test_the_report_columns_are_wide_enough_for_their_headings_at_the_tables_size() -> None:
    pdf = DocumentPdf("L")
    for headers, wide in (
        (
            discipline_report.UNIT_HEADERS,
            {1: 12, 2: 34, len(discipline_report.UNIT_HEADERS) - 1: 52},
        ),
        (discipline_report.PERSON_HEADERS, {1: 14, 2: 30, 3: 16, 22: 50}),
    ):
        columns = discipline_report._pdf_columns(pdf, headers, wide)
        usable = pdf.w - pdf.l_margin - pdf.r_margin
        assert abs(sum(c.width for c in columns) - usable) < 1e-6
        for c in columns:
            assert c.width >= heading_width(pdf, FAMILY, c.header) or c.wrap, c.header
        assert _heading_sizes(list(headers), [c.width for c in columns]) == {6.5}
    assert "CBCCVC" in discipline_report.UNIT_HEADERS[3]


@pytest.mark.parametrize(
    ("text", "width", "align"),
    [
        (discipline_report.RATE_NOTE, 0, "L"),
        (discipline_report.RATE_NOTE, 120, "L"),
        ("SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG TỈNH THỬ NGHIỆM " * 3, 124.65, "C"),
        ("Đơn vị: Sở Nội vụ\nBộ phận: Phòng Một\nMã QHNS: ........", 120, "L"),
    ],
)
def test_a_paragraph_breaks_into_the_lines_multi_cell_would(
    text: str, width: float, align: str
) -> None:
    """``paragraph`` wraps once with the grid's widths instead of ``multi_cell``'s line
    breaking character by character: the same lines, each a cell, y below the last."""
    pdf = DocumentPdf("L")
    pdf.add_page()
    pdf.set_font(FAMILY, "I", 7.5)
    lines = pdf.multi_cell(width, 3.8, text, align=align, dry_run=True, output="LINES")
    assert isinstance(lines, list)
    expected = [str(line) for line in lines]
    y = pdf.get_y()
    pdf.paragraph(width, 3.8, text, align=align)
    assert abs(pdf.get_y() - (y + 3.8 * len(expected))) < 1e-6
    assert pdf.x == pdf.l_margin
    got = PdfReader(io.BytesIO(pdf.output_bytes())).pages[0].extract_text().split("\n")
    assert [line.strip() for line in got[: len(expected)]] == [e.strip() for e in expected]
