"""The documents' streamed sheet writes what XlsxWriter's own write methods write: the same
worksheet XML, and the same values, types, styles and merged ranges read back with openpyxl
(a guard for upgrades of the library, whose worksheet it extends)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
import xlsxwriter
from openpyxl import load_workbook
from xlsxwriter.exceptions import DuplicateWorksheetName, InvalidWorksheetName

from services.documents.sheets import DATA_ONLY, add_sheet, workbook

HARD_TEXT = [
    "Nguyễn Thị Ánh",
    '=HYPERLINK("http://evil.example/","x")',
    "http://evil.example/",
    "a & b < c > d \"quoted\" 'single'",
    " leading and trailing ",
    "dòng 1\ndòng 2",
    "bell \x07 and _x0041_ literally",
    "\ttab first",
    "ạ" * 40_000,  # over Excel's 32,767: cut as the library cuts it
]
NUMBERS: list[Any] = [0, 1, -3, 2.5, 0.1, 1e20, 123456789012, 1 / 3, 17.25]


def _rows() -> list[list[Any]]:
    return [
        [1, "Mã 01", *HARD_TEXT[:4], None, "", 2.5],
        ["", None, *NUMBERS],
        [*HARD_TEXT[4:], 7, None],
    ]


def _library(fmt_text: Any, fmt_number: Any, ws: Any, rows: list[list[Any]]) -> None:
    ws.merge_range(0, 0, 0, 5, "BÁO CÁO & TỔNG HỢP", fmt_text)
    ws.merge_range(1, 2, 1, 4, "", fmt_text)
    for r, row in enumerate(rows, start=3):
        for c, value in enumerate(row):
            if isinstance(value, str) and value:
                ws.write_string(r, c, value, fmt_text)
            elif isinstance(value, str):
                ws.write_blank(r, c, None, fmt_text)
            elif value is None:
                ws.write_blank(r, c, None, fmt_number)
            else:
                ws.write_number(r, c, value, fmt_number)
    ws.write(len(rows) + 4, 1, "Người lập biểu", fmt_text)


def _formats(book: Any) -> tuple[Any, Any]:
    text = book.add_format({"font_name": "Times New Roman", "border": 1, "text_wrap": True})
    number = book.add_format({"font_name": "Times New Roman", "border": 1, "bold": True})
    return text, number


def _by_library() -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, **DATA_ONLY})
    text, number = _formats(book)
    _library(text, number, book.add_worksheet("Đơn vị"), _rows())
    book.close()
    return out.getvalue()


def _streamed(finish: bool = False) -> bytes:
    """The rows by ``write_values``; with ``finish``, the sheet finished half-way (its rows
    packed, its rendered values forgotten) and written on after, as the library's last row
    is at packaging."""
    out = io.BytesIO()
    book = workbook(out)
    text, number = _formats(book)
    ws = add_sheet(book, "Đơn vị")
    ws.merge_values(0, 0, 5, "BÁO CÁO & TỔNG HỢP", text)
    ws.merge_values(1, 2, 4, "", text)
    rows = list(enumerate(_rows(), start=3))
    for r, row in rows:
        ws.write_values(r, 0, row[:3], text, number)  # a row in two calls, left to right
        ws.write_values(r, 3, row[3:], text, number)
        if finish and r == rows[len(rows) // 2][0]:
            ws.finish()
    ws.write(len(_rows()) + 4, 1, "Người lập biểu", text)  # the library's own, on its own row
    if finish:
        ws.finish()
    book.close()
    return out.getvalue()


def _cells(raw: bytes) -> tuple[list[tuple[Any, ...]], list[str]]:
    ws = load_workbook(io.BytesIO(raw)).worksheets[0]
    cells = [
        (
            c.coordinate,
            c.value,
            c.data_type,
            repr(c.font),
            repr(c.border),
            repr(c.alignment),
            c.number_format,
        )
        for row in ws.iter_rows()
        for c in row
    ]
    return cells, sorted(str(r) for r in ws.merged_cells.ranges)


def test_streamed_rows_read_back_as_the_librarys_own_cells() -> None:
    streamed, library = _cells(_streamed()), _cells(_by_library())
    assert streamed[1] == library[1] == ["A1:F1", "C2:E2"]
    assert len(streamed[0]) == len(library[0])
    for mine, theirs in zip(streamed[0], library[0], strict=True):
        assert mine == theirs
    assert HARD_TEXT[1] in {c[1] for c in streamed[0]}
    assert not [c for c in streamed[0] if c[2] == "f"], "text stays text, never a formula"


def test_the_streamed_sheet_is_the_librarys_xml_byte_for_byte() -> None:
    def parts(raw: bytes) -> list[bytes]:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            return [z.read("xl/worksheets/sheet1.xml"), z.read("xl/styles.xml")]

    assert parts(_streamed()) == parts(_by_library())


def test_a_row_goes_once_and_rows_go_in_order() -> None:
    book = workbook(io.BytesIO())
    ws = add_sheet(book, "S")
    ws.write_values(2, 0, ["a", 1], None)
    with pytest.raises(ValueError, match="left to right"):
        ws.write_values(2, 0, ["b"], None)
    ws.write_values(4, 0, ["c"], None)
    with pytest.raises(ValueError, match="already written"):
        ws.write_values(3, 0, ["d"], None)
    ws.write(6, 0, "library")
    with pytest.raises(ValueError, match="already written"):
        ws.write_values(6, 1, ["mixed"], None)
    with pytest.raises(TypeError):
        ws.write_values(7, 0, [True], None)


def test_a_streamed_row_with_a_height_is_one_row_as_the_librarys() -> None:
    """A height set on a streamed row (a taller heading, a row of wrapped flags) is the
    library's own ``<row ht=…>``, once: a second ``<row>`` of the same number is a file Excel
    must repair."""

    def made(streamed: bool) -> bytes:
        out = io.BytesIO()
        options = {"constant_memory": True, **DATA_ONLY}
        book = workbook(out) if streamed else xlsxwriter.Workbook(out, options)
        text, number = _formats(book)
        ws = add_sheet(book, "S") if streamed else book.add_worksheet("S")
        ws.set_row(0, 40)
        ws.set_row(2, 30)
        for r, row in enumerate(_rows()):
            if streamed:
                ws.write_values(r, 0, row, text, number)
            else:
                for c, value in enumerate(row):
                    if isinstance(value, str) and value:
                        ws.write_string(r, c, value, text)
                    elif isinstance(value, str) or value is None:
                        ws.write_blank(r, c, None, text if isinstance(value, str) else number)
                    else:
                        ws.write_number(r, c, value, number)
        ws.write(5, 0, "Người lập biểu", text)
        book.close()
        return out.getvalue()

    with zipfile.ZipFile(io.BytesIO(made(streamed=True))) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    assert xml.count(b'<row r="1" ') == 1 and xml.count(b'<row r="3" ') == 1
    with zipfile.ZipFile(io.BytesIO(made(streamed=False))) as z:
        assert xml == z.read("xl/worksheets/sheet1.xml")


def test_a_range_merged_down_two_rows_is_the_librarys_own() -> None:
    """The bảng chấm công's STT, Họ và tên and chức vụ headings span two rows: the range is
    recorded once, its first cell holds the text and the cell below is blank in its format,
    as ``merge_range`` writes them."""

    def made(streamed: bool) -> bytes:
        out = io.BytesIO()
        options = {"constant_memory": True, **DATA_ONLY}
        book = workbook(out) if streamed else xlsxwriter.Workbook(out, options)
        text, _ = _formats(book)
        ws = add_sheet(book, "S") if streamed else book.add_worksheet("S")
        ws.set_row(1, 30)
        if streamed:
            ws.merge_values(0, 0, 1, "Ngày trong tháng", text)
            ws.merge_values(0, 2, 2, "Quy ra công", text, last_row=1)
            ws.write_values(1, 0, [1, 2, ""], text)
        else:  # the library's merge down moves to row 2: row 1 is written before it
            ws.merge_range(0, 0, 0, 1, "Ngày trong tháng", text)
            ws.merge_range(0, 2, 1, 2, "Quy ra công", text)
            ws.write_number(1, 0, 1, text)
            ws.write_number(1, 1, 2, text)
        book.close()
        return out.getvalue()

    with zipfile.ZipFile(io.BytesIO(made(streamed=True))) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    assert b'<mergeCell ref="C1:C2"/>' in xml and b'<c r="C2" s="1"/>' in xml
    with zipfile.ZipFile(io.BytesIO(made(streamed=False))) as z:
        assert xml == z.read("xl/worksheets/sheet1.xml")
    ws = add_sheet(workbook(io.BytesIO()), "S")
    ws.merge_values(0, 0, 0, "STT", None, last_row=1)
    with pytest.raises(ValueError, match="overlaps"):
        ws.merge_values(1, 0, 1, "x", None)


def test_sheets_share_rendered_cells_and_each_is_the_librarys_own() -> None:
    """The workbook's sheets render a value in a format once for all of them (a province's
    thousand sheets repeat their figures): every sheet is still byte for byte the library's,
    whichever sheet first used a format."""

    def made(streamed: bool) -> list[bytes]:
        out = io.BytesIO()
        options = {"constant_memory": True, **DATA_ONLY}
        book = workbook(out) if streamed else xlsxwriter.Workbook(out, options)
        text, number = _formats(book)
        for n, (first, second) in enumerate([(text, number), (number, text), (text, text)]):
            ws = add_sheet(book, f"S{n}") if streamed else book.add_worksheet(f"S{n}")
            rows: list[list[Any]] = [["Cộng", 0, 1, 2.5], ["Cộng", 0, "", None]]
            for r, row in enumerate(rows):
                if streamed:
                    ws.write_values(r, 0, row, first, second)
                else:
                    for c, value in enumerate(row):
                        fmt = first if isinstance(value, str) else second
                        if value is None or value == "":
                            ws.write_blank(r, c, None, fmt)
                        elif isinstance(value, str):
                            ws.write_string(r, c, value, fmt)
                        else:
                            ws.write_number(r, c, value, fmt)
        book.close()
        with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
            return [z.read(f"xl/worksheets/sheet{n}.xml") for n in (1, 2, 3)]

    mine, theirs = made(streamed=True), made(streamed=False)
    assert mine == theirs
    assert b'<c r="A1" s="2" t="inlineStr">' in mine[1]  # "Cộng" in the number format there


@pytest.mark.parametrize(
    ("names", "error"),
    [
        (["Phòng Một", "PHÒNG MỘT"], DuplicateWorksheetName),
        (["Tổng hợp", "Phòng Một", "tổng hợp"], DuplicateWorksheetName),
        (["P. Tổ chức: cán bộ"], InvalidWorksheetName),
        (["'Phòng Một'"], InvalidWorksheetName),
        (["Phòng Tổ chức, biên chế và tổ chức phi chính phủ"], InvalidWorksheetName),
    ],
)
def test_a_sheet_name_the_library_refuses_is_refused_the_same(
    names: list[str], error: type[Exception]
) -> None:
    """The workbook adds a sheet in constant time (a set of the names taken, not the library's
    walk through every sheet): what the library refuses is refused with its own error."""
    for book in (workbook(io.BytesIO()), xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})):
        with pytest.raises(error):
            for name in names:
                book.add_worksheet(name)
        assert len(book.worksheets()) == len(names) - 1


def test_a_thousand_distinct_sheet_names_are_all_taken_in_order() -> None:
    book = workbook(io.BytesIO())
    names = [f"Phòng số {n}" for n in range(1, 1001)]
    for name in names:
        add_sheet(book, name)
    assert [ws.name for ws in book.worksheets()] == names
    with pytest.raises(DuplicateWorksheetName):
        add_sheet(book, "phòng SỐ 500")
    assert book.get_worksheet_by_name("Phòng số 1000") is book.worksheets()[-1]


def test_a_finished_sheet_written_on_is_the_librarys_xml_byte_for_byte() -> None:
    """``finish`` packs the rows written so far (deflated until the workbook is packaged):
    rows written after it follow them, and the file is the library's own."""

    def parts(raw: bytes) -> list[bytes]:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            return [z.read("xl/worksheets/sheet1.xml"), z.read("xl/styles.xml")]

    assert parts(_streamed(finish=True)) == parts(_by_library())
