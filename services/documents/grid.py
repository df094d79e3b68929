"""A fast ruled table for the PDFs: text placed with ``FPDF.text`` and rules drawn per row and
per page, headings repeated on every page. fpdf2's own ``table()`` lays out each cell with
``multi_cell`` (≈ 0.3 ms a cell): too slow for a province's 30,000 rows; this draws the same
grid about fifty times faster. Text wraps between words in the columns marked ``wrap``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MM_PER_PT = 0.3528


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    width: float
    align: str = "C"  # L, C, R
    wrap: bool = False


class _Widths:
    """String widths in the current font, cached (figures repeat: 0, 1, 20…).

    fpdf2's ``get_string_width`` parses each string into styled fragments first (over a
    quarter of a province's report PDF under the profiler); a table's plain text is the sum of
    its characters' advances, computed here the way fpdf2 computes a fragment's (same figures
    to the last bit: tests/unit/test_pdf_grid.py), with fpdf2's own path for anything unusual."""

    def __init__(self, pdf: Any) -> None:
        self.pdf = pdf
        self.cache: dict[tuple[str, str], float] = {}

    def __call__(self, style: str, text: str) -> float:
        key = (style, text)
        width = self.cache.get(key)
        if width is None:
            width = self.cache[key] = text_width(self.pdf, text)
        return width


def text_width(pdf: Any, text: str) -> float:
    """The width of ``text`` in the current font, as ``get_string_width`` gives it."""
    font = pdf.current_font
    plain = (
        not getattr(font, "is_symbol", True)
        and pdf.is_ttf_font
        and not pdf.text_shaping
        and pdf.char_spacing == 0
        and pdf.font_stretching == 100
    )
    if not plain:
        return float(pdf.get_string_width(text))
    cw = font.cw
    return float(sum(cw[ord(c)] for c in text) * pdf.font_size_pt * 0.001 / pdf.k)


def _pieces(heading: str) -> list[str]:
    """A heading's words, each cut after its slashes ("(lượt/100" → "(lượt/", "100"): the
    parts a heading's line may end with."""
    return [part for word in heading.split() for part in re.findall(r"[^/]*/|[^/]+", word)]


def heading_width(
    pdf: Any, family: str, heading: str, size: float = 6.5, pad: float = 0.7
) -> float:
    """The narrowest column (mm) whose ``heading`` keeps the table's type size: its widest word
    (a word may end a line after a slash) and the padding."""
    pdf.set_font(family, "B", size)
    return max(text_width(pdf, part) for part in _pieces(heading)) + 2 * pad + 0.1


def _split_long(words: list[str], width: float, measure: Any, style: str) -> list[str]:
    """Words wider than the column are cut after a slash, else between characters."""
    out: list[str] = []
    for word in words:
        while measure(style, word) > width and len(word) > 1:
            cut = word.find("/") + 1
            if not 0 < cut < len(word) or measure(style, word[:cut]) > width:
                cut = len(word) - 1
                while cut > 1 and measure(style, word[:cut]) > width:
                    cut -= 1
            out.append(word[:cut])
            word = word[cut:]
        out.append(word)
    return out


def wrap(text: str, width: float, measure: Any, style: str) -> list[str]:
    """The lines of ``text`` in ``width`` mm, broken between words (and after a new line);
    ``measure(style, text)`` gives a text's width in mm."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in _split_long(paragraph.split(" "), width, measure, style):
            candidate = f"{current} {word}" if current else word
            if current and measure(style, candidate) > width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return lines


Placed = list[tuple[float, list[tuple[str, float, float]]]]  # size, (text, dx, dy)


def _headings(
    pdf: Any,
    family: str,
    columns: tuple[Column, ...],
    size: float,
    line_height: float,
    pad: float,
) -> tuple[Placed, float]:
    """Each heading's size and lines placed in its column, and the height of the heading row.

    Headings never cut a word ("CBCC|VC", "(ngày|)"): a column whose longest word does not
    fit gets a smaller size for its heading alone. Laid out once per document for the same
    columns (a ``DocumentPdf`` keeps them: a province's PDF has a thousand tables)."""
    kept: dict[object, tuple[Placed, float]] | None = getattr(pdf, "grid_headings", None)
    key = (family, columns, size, line_height, pad)
    if kept is not None and key in kept:
        return kept[key]
    placed: Placed = []
    head_height = 0.0
    for column in columns:
        room = column.width - 2 * pad
        head_size = size
        pdf.set_font(family, "B", head_size)
        while head_size > 4.5 and any(
            text_width(pdf, word) > room for word in _pieces(column.header)
        ):
            head_size -= 0.25
            pdf.set_font(family, "B", head_size)
        lines = wrap(column.header, room, lambda _s, t: text_width(pdf, t), "B")
        step = line_height * head_size / size
        placed.append(
            (
                head_size,
                [
                    (text, (column.width - text_width(pdf, text)) / 2, n * step)
                    for n, text in enumerate(lines)
                ],
            )
        )
        head_height = max(head_height, len(lines) * step + 2 * pad)
    if kept is not None:
        kept[key] = (placed, head_height)
    return placed, head_height


def draw_grid(
    pdf: Any,
    family: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[str]],
    total: Sequence[str] | None = None,
    size: float = 6.5,
    line_height: float = 3.0,
    pad: float = 0.7,
    fill: tuple[int, int, int] = (221, 235, 247),
) -> None:
    """Draw the headings, the rows and a bold total row from the current position."""
    measure = _Widths(pdf)
    xs = [pdf.l_margin]
    for column in columns:
        xs.append(xs[-1] + column.width)
    bottom_limit = pdf.h - pdf.b_margin
    ascent = line_height * 0.5 + size * MM_PER_PT * 0.35

    placed, head_height = _headings(pdf, family, tuple(columns), size, line_height, pad)

    def headings() -> float:
        y = float(pdf.get_y())
        pdf.set_fill_color(*fill)
        pdf.rect(xs[0], y, xs[-1] - xs[0], head_height, style="DF")
        # fpdf2 wraps every text in "q <colour> … Q" while the fill colour differs from the
        # text colour: a million cells' worth of work and bytes
        pdf.set_fill_color(pdf.text_color)
        for i, (head_size, lines) in enumerate(placed):
            pdf.set_font(family, "B", head_size)
            block = lines[-1][2] + line_height * head_size / size if lines else 0.0
            top = y + (head_height - block) / 2
            for text, dx, dy in lines:
                pdf.text(xs[i] + dx, top + dy + ascent * head_size / size, text)
        pdf.set_font(family, "", size)
        return y

    block_top = float(pdf.get_y())

    def verticals(top: float, bottom: float) -> None:
        for x in xs:
            pdf.line(x, top, x, bottom)

    def draw_row(cells: Sequence[str], style: str) -> None:
        nonlocal block_top
        wrapped = [
            wrap(text, c.width - 2 * pad, measure, style) if c.wrap and text else [text]
            for c, text in zip(columns, cells, strict=True)
        ]
        height = max(len(w) for w in wrapped) * line_height + 2 * pad
        y = pdf.get_y()
        if y + height > bottom_limit:
            verticals(block_top, y)
            pdf.add_page()
            block_top = headings()
            y = block_top + head_height
            pdf.set_font(family, style, size)
        if style == "B":
            pdf.set_fill_color(*fill)
            pdf.rect(xs[0], y, xs[-1] - xs[0], height, style="F")
            pdf.set_fill_color(pdf.text_color)  # as in the headings
        for i, (column, lines) in enumerate(zip(columns, wrapped, strict=True)):
            for n, text in enumerate(lines):
                if not text:
                    continue
                if column.align == "L":
                    x = xs[i] + pad
                elif column.align == "R":
                    x = xs[i + 1] - pad - measure(style, text)
                else:
                    x = xs[i] + (column.width - measure(style, text)) / 2
                pdf.text(x, y + pad + n * line_height + ascent, text)
        pdf.line(xs[0], y + height, xs[-1], y + height)
        pdf.set_y(y + height)

    if pdf.get_y() + head_height + 3 * line_height > bottom_limit:
        pdf.add_page()
    block_top = headings()
    pdf.set_y(block_top + head_height)
    pdf.set_font(family, "", size)
    for row in rows:
        draw_row(row, "")
    if total is not None:
        pdf.set_font(family, "B", size)
        draw_row(total, "B")
    verticals(block_top, pdf.get_y())
    pdf.set_x(pdf.l_margin)
