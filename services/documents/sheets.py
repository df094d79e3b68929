"""Worksheet names: Excel allows 31 characters without []:*?/\\ and compares them without case.

A long unit name is shortened by rule, never cut mid-word: the usual prefixes become their
customary abbreviations (Phòng → P., Trung tâm → TT…), then whole words are kept while they fit
and "…" marks the cut; a name already taken gets " (2)", " (3)"…"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from copy import copy
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # imported where a workbook is written: 18 MB not held by every process
    from openpyxl.styles import Alignment, Font

    from services.documents.streamed import DocumentWorkbook, StreamedSheet

LIMIT = 31
ABBREVIATIONS = (
    ("Ủy ban nhân dân", "UBND"),
    ("Văn phòng", "VP"),
    ("Trung tâm", "TT"),
    ("Chi cục", "CC"),
    ("Phòng", "P."),
    ("Ban quản lý", "BQL"),
    ("Sở ", "S. "),
)


# control characters (not valid in the workbook's XML) and the bidi marks and overrides
_UNSEEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _clean(name: str) -> str:
    name = _UNSEEN.sub(" ", name)
    text = re.sub(r"\s+", " ", re.sub(r"[\[\]:*?/\\]", " ", name)).strip().strip("'")
    text = text.lstrip("=+-@＝＋－＠ ")  # a title is a name, not something that reads as a formula
    return text or "Đơn vị"


def _abbreviated(text: str) -> str:
    for long, short in ABBREVIATIONS:
        if text.startswith(long):
            return short + text[len(long) :]
    return text


def _words_fitting(words: list[str], budget: int) -> str:
    kept = ""
    for word in words:
        candidate = f"{kept} {word}".strip()
        if len(candidate) > budget:
            break
        kept = candidate
    return kept.rstrip(",;.-– ")


def shorten(name: str, limit: int = LIMIT) -> str:
    """A readable name of at most ``limit`` characters, cut between words."""
    text = _clean(name)
    if len(text) <= limit:
        return text
    text = _abbreviated(text)
    if len(text) <= limit:
        return text
    kept = _words_fitting(text.split(" "), limit - 1) or text[: limit - 1]
    return kept + "…"


def _with_tail(name: str, tail_words: int, limit: int = LIMIT) -> str:
    """The beginning and the last words: "TT Phục vụ… cơ sở 2" (what tells two units apart)."""
    words = _abbreviated(_clean(name)).split(" ")
    if len(words) <= tail_words:
        return shorten(name, limit)
    tail = " ".join(words[-tail_words:])
    head = _words_fitting(words[:-tail_words], limit - len(tail) - 2)
    return f"{head}… {tail}" if head else shorten(name, limit)


def sheet_titles(names: Sequence[str], reserved: Sequence[str] = ()) -> list[str]:
    """Distinct titles for ``names`` in order, avoiding ``reserved``: a title already taken is
    tried with the name's last words, then numbered."""
    used = {r.casefold() for r in reserved}
    seen: set[str] = set()
    titles = []
    for name in names:
        candidates = [shorten(name)]
        if _clean(name).casefold() not in seen:  # the same name twice is simply numbered
            candidates += [_with_tail(name, k) for k in (3, 2, 4)]
        seen.add(_clean(name).casefold())
        title = next((c for c in candidates if c.casefold() not in used), "")
        n = 2
        while not title or title.casefold() in used:
            suffix = f" ({n})"
            title = shorten(name, LIMIT - len(suffix)) + suffix
            n += 1
        used.add(title.casefold())
        titles.append(title)
    return titles


# XlsxWriter's ``write`` turns text beginning with "=" into a formula and text that looks like a
# URL into a hyperlink: a person's name or note must stay data (OWASP, CSV/formula injection).
DATA_ONLY = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def workbook(out: IO[bytes]) -> DocumentWorkbook:
    """An XlsxWriter workbook built in memory in which every text is written as text."""
    from services.documents.streamed import DocumentWorkbook

    return DocumentWorkbook(out, {"in_memory": False, **DATA_ONLY})


def add_sheet(book: DocumentWorkbook, title: str) -> StreamedSheet:
    """A ``StreamedSheet`` added to ``book``, rendering cells with the book's other sheets."""
    from services.documents.streamed import StreamedSheet

    ws = cast(StreamedSheet, book.add_worksheet(title, worksheet_class=StreamedSheet))
    ws.share_rendered(book.rendered)
    return ws


def as_text_cells(ws: Any) -> None:
    """An openpyxl sheet with no formulas: cells openpyxl read as one (text starting with "=")
    are written as the text they are."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


# Row heights. A spreadsheet never fits a row to a merged cell's text, and XlsxWriter writes no
# height unless told: a wrapped heading or a cell of several flags is cut where the row
# ends. The documents set the height of each row whose text wraps, measured here with the
# widths of Times New Roman (their font; Liberation Serif, LibreOffice's stand-in, has the
# same): 1/1000 of the font size, by character, the base letter of an accented one.
_NARROW = dict.fromkeys(" ,.", 250) | dict.fromkeys("ijlt:;/'|!", 278)


class _Widths(dict[str, int]):
    """Width by character; an accented letter measured as its base letter, an unknown
    character as the widest (the lookup of a known one stays in C: a province's names)."""

    def __missing__(self, ch: str) -> int:
        base = unicodedata.normalize("NFD", ch)[:1]
        width = self.get(base, 722 if base.isupper() else 500 if base.isalpha() else 1000)
        self[ch] = width
        return width


_TIMES = _Widths(
    {
        **dict.fromkeys("abcdeghknopquvxyz0123456789_#$*", 500),
        **dict.fromkeys("acez", 444),
        **dict.fromkeys("frI()[]-", 333),
        "s": 389,
        "m": 778,
        "w": 722,
        **dict.fromkeys("ABCDGHKNOQUVXYĐ", 722),
        **dict.fromkeys("EFLPSTZ", 611),
        **dict.fromkeys("BCR", 667),
        "J": 389,
        "M": 889,
        "W": 944,
        "%": 833,
        "…": 1000,
        **_NARROW,
    }
)
LINE = 1.25  # a line's height over the font size (Excel's 15 points for an 11-point font)


def column_points(width: float) -> float:
    """The room for text in a column ``width`` characters wide (Excel's unit: the digits of
    the 11-point default font, 7 pixels each, plus 5 of padding), in points, less a margin."""
    return (width * 7 + 5) * 0.75 - 4


# Small: a name is measured once a report (no hit), a title, a flag or a heading many times;
# 65,536 entries kept a province's names alive in the process (≈ 10 MB) between reports.
@lru_cache(maxsize=4096)
def text_lines(text: str, width: float, size: float = 11, bold: bool = False) -> int:
    """The lines ``text`` takes when wrapped at word boundaries in a cell of ``width``
    characters (several columns merged: their sum), in a ``size``-point font."""
    room = column_points(width) * 1000 / (size * (1.08 if bold else 1.0))
    measure = _TIMES.__getitem__
    if "\n" not in text and sum(map(measure, text)) <= room:
        return 1
    lines = 0
    for paragraph in text.split("\n"):
        lines += 1
        used = 0.0
        for word in paragraph.split(" "):
            w: float = sum(map(measure, word))
            needed = w if not used else used + 250 + w
            if needed <= room:
                used = needed
                continue
            if used:
                lines += 1
            while w > room:  # a word longer than the line breaks where it must
                lines += 1
                w -= room
            used = w
    return lines


def signature_blocks(widths: Sequence[float], count: int) -> list[tuple[int, int]]:
    """``count`` runs of columns (first, last, zero-based), each about an equal share of the
    columns' total ``widths``: where signature blocks side by side are merged and centred."""
    total, first, used = sum(widths), 0, 0.0
    blocks: list[tuple[int, int]] = []
    for col, width in enumerate(widths):
        used += width
        if len(blocks) < count - 1 and used >= total * (len(blocks) + 1) / count:
            blocks.append((first, col))
            first = col + 1
    blocks.append((first, len(widths) - 1))
    return blocks


def row_points(lines: int, size: float = 11) -> float:
    """The height of a row of ``lines`` lines in a ``size``-point font, in points, in whole
    pixels (0.75 point) as a spreadsheet stores it."""
    return math.ceil((lines * size * LINE + 3) / 0.75) * 0.75


class StyledCells:
    """Write-only cells with a font, an alignment and a thin box, the style computed once per
    combination and copied (setting styles cell by cell costs ≈ 15 µs; a copy ≈ 1 µs)."""

    def __init__(self, ws: Any) -> None:
        from openpyxl.styles import Border, Side

        thin = Side(style="thin")
        self.box = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.ws = ws
        self.styles: dict[tuple[Any, Any, bool], Any] = {}

    def __call__(
        self,
        value: object,
        font: Font | None = None,
        align: Alignment | None = None,
        box: bool = False,
    ) -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell: Any = WriteOnlyCell(self.ws, value=value)  # type: ignore[arg-type]
        if isinstance(value, str):
            cell.data_type = "s"  # text, never a formula
        if font is None and align is None and not box:
            return cell
        key = (font, align, box)
        style = self.styles.get(key)
        if style is None:
            if font is not None:
                cell.font = font
            if align is not None:
                cell.alignment = align
            if box:
                cell.border = self.box
            self.styles[key] = copy(cell._style)
        else:
            cell._style = copy(style)
        return cell
