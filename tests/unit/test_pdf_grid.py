"""The PDFs' ruled table: a heading's word is never cut across two lines."""

from __future__ import annotations

import io

from pypdf import PdfReader

from services.documents.grid import Column, draw_grid
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
