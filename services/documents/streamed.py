"""XlsxWriter's constant-memory worksheet kept in memory, rows of plain cells written at once
(issue #13: a province's workbook has a thousand sheets and a million cells). Imported only
where a workbook is written.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence
from typing import Any

from xlsxwriter.exceptions import DuplicateWorksheetName
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name, xl_range
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

# '<c r="A', '<c r="B', … '<c r="IV': a cell's element up to its row number
_OPENINGS = [f'<c r="{xl_col_to_name(c)}' for c in range(256)]
_STRMAX = 32767  # Excel's limit on a cell's text, in UTF-16 units
# what the library's escapes change: control characters, their _xHHHH_ form, & < >
_ESCAPED = re.compile(r"[\x00-\x08\x0b-\x1f&<>]|_x[0-9a-fA-F]{4}_")


# How many rendered values of one format the workbook keeps between sheets.
RENDERED_KEPT = 4096
# value → a cell's element after its reference, per (text format, number format)
Rendered = dict[tuple[Format | None, Format | None], dict[object, str]]


class DocumentWorkbook(Workbook):  # type: ignore[misc]
    """XlsxWriter's workbook whose sheets share the cells they render, and that adds a sheet in
    constant time.

    The library checks a new sheet's name against every sheet's, lowercased (its
    ``_check_sheetname``: ≈ 1.2 s for a province's thousand sheets, quadratic). Here its checks
    run as they are (length, characters, apostrophes) against no sheet, and the names taken are
    looked up in a set of their lowercase forms: the same names accepted, the same error for a
    duplicate. Should a later version stop calling ``_check_sheetname``, its own check runs
    and the names are still checked (tests/unit/test_streamed_sheet.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.taken: set[str] = set()  # the sheet names, lowercase
        self.rendered: Rendered = {}  # shared by the sheets: a format's index is the workbook's

    def _check_sheetname(self, sheetname: str | None, is_chartsheet: bool = False) -> str:
        sheets = self.worksheets()  # the library's own list, which its check walks
        self.worksheets_objs = []
        try:
            name: str = super()._check_sheetname(sheetname, is_chartsheet)
        finally:
            self.worksheets_objs = sheets
        key = name.lower()
        if key in self.taken:
            raise DuplicateWorksheetName(
                f"Sheetname '{name}', with case ignored, is already in use."
            )
        self.taken.add(key)
        return name


class _PackedRows:
    """A sheet's rows until the workbook is packaged, as UTF-8 and, once the sheet is
    finished, deflated: ``io.StringIO`` held a province's rows as text (55 MB, two bytes a
    character once a row has a Vietnamese letter), the most of the report's peak memory;
    deflated they are ≈ 3 MB. Rows written after ``pack`` (the library's last pending row,
    at packaging) follow the packed ones."""

    def __init__(self) -> None:
        self._packed = b""
        self._parts: list[bytes] = []

    def write(self, text: str) -> int:
        self._parts.append(text.encode())
        return len(text)

    def pack(self) -> None:
        if self._parts:
            self._packed = zlib.compress(
                zlib.decompress(self._packed) + b"".join(self._parts)
                if self._packed
                else b"".join(self._parts),
                1,
            )
            self._parts = []

    def getvalue(self) -> str:
        head = zlib.decompress(self._packed) if self._packed else b""
        return (head + b"".join(self._parts)).decode()

    def close(self) -> None:
        self._packed, self._parts = b"", []


class StreamedSheet(Worksheet):  # type: ignore[misc]
    """XlsxWriter's constant-memory worksheet (rows in order, text inline) kept in memory
    instead of a temporary file per sheet, with rows of plain cells written at once.

    A province's workbook has a thousand sheets and a million cells: the library spends
    ≈ 6 µs on a cell and a file system round trip on a sheet (issue #13). ``write_values`` and
    ``merge_values`` write the ``<c>`` elements the library's write methods write, each
    distinct value in a format rendered once per sheet; formats, column widths, merges'
    records, print setup and packaging stay the library's. A row is written either by these
    two methods or by the library's, never both."""

    previous_row: int  # the library's pending row (constant-memory mode)

    def _initialize(self, init_data: dict[str, Any]) -> None:
        super()._initialize(init_data)  # an in-memory workbook: no temporary file
        self.constant_memory = True
        self.row_data_fh = _PackedRows()
        self.fh = self.row_data_fh
        self._open_row = -1  # the row ``write_values`` is filling, -1 when none
        self._next_col = 0
        self._cells: list[str] = []
        self._rendered: Rendered = {}  # the workbook's, once ``share_rendered`` is called

    def share_rendered(self, rendered: Rendered) -> None:
        """Render each value in each format once per workbook, not once per sheet (a province's
        thousand sheets repeat the same figures and headings)."""
        self._rendered = rendered

    def write_values(
        self,
        row: int,
        col: int,
        values: Sequence[object],
        text: Format | None,
        number: Format | None = None,
    ) -> None:
        """``values`` from (row, col) rightwards: text as text in ``text`` (never a formula),
        numbers in ``number`` (``text`` when None), an empty text in ``text`` and None in
        ``number`` as blank cells. Rows in order; a row's calls left to right."""
        if not values:
            return
        number = text if number is None else number
        last = col + len(values) - 1
        if row != self._open_row:
            if row < self.previous_row or (row == self.previous_row and self.table.get(row)):
                raise ValueError(f"row {row + 1} is already written (rows go in order)")
            if row > self.previous_row:  # as the library: the pending row goes out first
                self._write_single_row(row)  # (row 0 is pending from the start)
            self._open_row = row
            self._next_col = 0
        if col < self._next_col:
            raise ValueError(f"row {row + 1}: cells go left to right")
        if self._check_dimensions(row, col) or self._check_dimensions(row, last):
            raise ValueError(f"cell ({row}, {last}) is outside the worksheet")
        tails = self._rendered.get((text, number))
        if tails is None:  # value → the element after its reference, in these formats
            tails = self._rendered[(text, number)] = {}
        n = str(row + 1)
        append, render = self._cells.append, self._render
        for opening, value in zip(_OPENINGS[col : last + 1], values, strict=True):
            tail = tails.get(value)
            if tail is None or value.__class__ is bool:  # True == 1: a bool is no number
                tail = tails[value] = render(value, text if value.__class__ is str else number)
            append(f"{opening}{n}{tail}")
        self._next_col = last + 1

    def finish(self) -> None:
        """Every cell is written: pack the rows (``_PackedRows``) and forget what only the
        writing used: the merged cells' map (overlap checks) and, once the workbook's shared
        renderings of a format pass RENDERED_KEPT values (names, codes, flags: a thousand
        sheets kept ≈ 45 MB of them for a province until the workbook closed), those; figures
        that repeat are rendered again on the next sheet. Nothing breaks if a write comes."""
        self.row_data_fh.pack()
        for tails in self._rendered.values():
            if len(tails) > RENDERED_KEPT:
                tails.clear()
        self.merged_cells.clear()

    def merge_values(
        self,
        row: int,
        first_col: int,
        last_col: int,
        value: object,
        fmt: Format,
        last_row: int | None = None,
    ) -> None:
        """A merged range: ``value`` in its first cell, the others blank, all in ``fmt`` (what
        ``merge_range`` writes). A range down to ``last_row`` is recorded whole; its cells on
        the rows below are the caller's to write, blank in ``fmt`` (rows go in order)."""
        last_row = row if last_row is None else last_row
        cell_range = xl_range(row, first_col, last_row, last_col)
        cells = [(r, c) for r in range(row, last_row + 1) for c in range(first_col, last_col + 1)]
        if not self.merged_cells.keys().isdisjoint(cells):  # as the library checks merges
            taken = next(self.merged_cells[cell] for cell in cells if cell in self.merged_cells)
            raise ValueError(f"{cell_range} overlaps {taken}")
        self.merged_cells.update(dict.fromkeys(cells, cell_range))
        self.merge.append([row, first_col, last_row, last_col])
        blank = "" if isinstance(value, str) else None
        self.write_values(row, first_col, [value, *[blank] * (last_col - first_col)], fmt)

    def _render(self, value: object, fmt: Format | None) -> str:
        """A cell's element after its reference: `` s="3" t="inlineStr"><is>…</is></c>``."""
        style = f'" s="{fmt._get_xf_index()}"' if fmt is not None else '"'
        if value is None or value == "":
            return f"{style}/>"
        if isinstance(value, str):
            text = value
            if len(text) > _STRMAX // 2 and len(text.encode("utf-16-le")) // 2 > _STRMAX:
                text = text.encode("utf-16-le")[: 2 * _STRMAX].decode("utf-16-le", "ignore")
            if _ESCAPED.search(text):
                text = self._escape_data(self._escape_control_characters(text))
            space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
            return f'{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"not a number to write: {value}")
            return f"{style}><v>{value:.16G}</v></c>"
        raise TypeError(f"a cell holds text or a number, not {type(value).__name__}")

    def _write_single_row(self, current_row_num: int = 0) -> None:
        # The library calls this when a write moves past the pending row and when it packages
        # the sheet: the row ``write_values`` filled goes out first, then the library's.
        if self._open_row >= 0:
            if self.table.get(self._open_row):
                raise ValueError(f"row {self._open_row + 1} written twice")
            self._write_row(self._open_row, None, self.row_info.get(self._open_row))
            self.fh.write("".join(self._cells))
            self.fh.write("</row>")
            self._cells.clear()
            flushed, self._open_row = self._open_row, -1
            if self.previous_row == flushed:
                # The library's pending row is the one just written: it has no cells, and a
                # height set on it (``row_info``) would write it again as an empty ``<row>``
                # of the same number, a file Excel repairs.
                self.previous_row = current_row_num
                self.table.clear()
                return
        super()._write_single_row(current_row_num)

    def _write_optimized_sheet_data(self) -> None:
        # The library's, reading the rows from memory instead of its temporary file.
        if self.dim_rowmin is None:
            self._xml_empty_tag("sheetData")
        else:
            self._xml_start_tag("sheetData")
            self.fh.write(self.row_data_fh.getvalue())
            self.row_data_fh.close()
            self._xml_end_tag("sheetData")
