"""PDF pages for the documents (fpdf2): A4, DejaVu Serif Condensed embedded (subset) so the
Vietnamese diacritics print the same on every machine, the national title block, page numbers.

The fonts are shipped beside this module (fonts/, with their licence): offices run on isolated
LANs and a fresh machine may have no fonts at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from services.documents.grid import text_width, wrap
from services.documents.header import MOTTO, NATIONAL_TITLE, SUGGESTS, DocumentHeader

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVuSerifCondensed"
PAGES = "{pages_total}"  # long enough to hold a province's page count
HEADINGS = FontFace(emphasis="BOLD", fill_color=(221, 235, 247))


class DocumentPdf(FPDF):
    """A4 document with embedded fonts and "Trang n/N" at the foot of every page."""

    def __init__(self, orientation: str = "L") -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSerifCondensed.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSerifCondensed-Bold.ttf"))
        self.add_font(FAMILY, "I", str(FONTS / "DejaVuSerifCondensed-Italic.ttf"))
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(True, margin=12)
        self.set_font(FAMILY, "", 9)
        self.set_creator("Kỷ Cương")
        self.alias_nb_pages(PAGES)
        self._wrapped: dict[tuple[str, str, float, float, str], list[str]] = {}
        self.grid_headings: dict[object, Any] = {}  # grid.draw_grid's layouts of headings

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font(FAMILY, "I", 7)
        self.cell(0, 4, f"Trang {self.page_no()}/{PAGES}", align="C")

    def national_block(self, left_top: str, left_bottom: str, dated: str | None = None) -> None:
        """The issuing block on the left (``left_top`` in upper case, ``left_bottom`` bold; a
        lone ``left_top`` bold), Quốc hiệu and tiêu ngữ on the right."""
        half = (self.w - self.l_margin - self.r_margin) / 2
        y = self.get_y()
        self.set_font(FAMILY, "" if left_bottom else "B", 9)
        self.paragraph(half * 0.9, 4.5, left_top.upper(), align="C")
        if left_bottom:
            self.set_font(FAMILY, "B", 9)
            self.paragraph(half * 0.9, 4.5, left_bottom, align="C")
        bottom = self.get_y()
        self.set_xy(self.l_margin + half, y)
        self.set_font(FAMILY, "B", 9.5)
        self.cell(half, 4.5, NATIONAL_TITLE, align="C", new_x="LEFT", new_y="NEXT")
        self.cell(half, 4.5, MOTTO, align="C", new_x="LEFT", new_y="NEXT")
        if dated:
            self.set_font(FAMILY, "I", 9)
            self.cell(half, 5, dated, align="C", new_x="LEFT", new_y="NEXT")
        self.set_xy(self.l_margin, max(bottom, self.get_y()) + 3)

    def paragraph(self, width: float, height: float, text: str, align: str = "L") -> None:
        """``text`` in the current font, wrapped between words in ``width`` mm (0: up to the
        right margin), a line ``height`` mm tall, from the current position; then x back where
        it was and y below the last line.

        What ``multi_cell`` draws for plain text, without its line breaking character by
        character (≈ 4 ms a paragraph, half of a province's report PDF: it has thousands);
        the lines of a text already wrapped in this font and width are reused."""
        x = self.x
        if width == 0:
            width = self.w - self.r_margin - x
        key = (self.font_family, self.font_style, self.font_size_pt, width, text)
        lines = self._wrapped.get(key)
        if lines is None:
            room = width - 2 * self.c_margin
            lines = self._wrapped[key] = wrap(text, room, lambda _s, t: text_width(self, t), "")
        for line in lines:
            self.set_x(x)
            self.cell(width, height, line, align=align, new_x="LEFT", new_y="NEXT")

    def centered(self, text: str, style: str = "", size: float = 9, height: float = 5) -> None:
        self.set_font(FAMILY, style, size)
        self.set_x(self.l_margin)
        self.paragraph(0, height, text, align="C")

    def signatures(self, roles: list[tuple[str, str]], dated: str | None = None) -> None:
        """Signature blocks side by side; kept together on one page."""
        if self.get_y() > self.h - 45:
            self.add_page()
        width = (self.w - self.l_margin - self.r_margin) / len(roles)
        if dated:
            self.set_font(FAMILY, "I", 9)
            self.set_x(self.l_margin + width * (len(roles) - 1))
            self.cell(width, 5, dated, align="C", new_x="LMARGIN", new_y="NEXT")
        y = self.get_y()
        for i, (role, note) in enumerate(roles):
            self.set_xy(self.l_margin + i * width, y)
            self.set_font(FAMILY, "B", 9)
            self.cell(width, 5, role, align="C", new_x="LEFT", new_y="NEXT")
            self.set_font(FAMILY, "I", 8)
            self.cell(width, 4, note, align="C")
        self.set_xy(self.l_margin, y + 28)

    def notice(self, *lines: str) -> None:
        self.set_font(FAMILY, "I", 7.5)
        for line in (*lines, SUGGESTS):
            self.set_x(self.l_margin)
            self.paragraph(0, 3.8, line)

    def output_bytes(self) -> bytes:
        return bytes(self.output())


def header_lines(header: DocumentHeader) -> str:
    generated = f"{header.generated:%H:%M ngày %d/%m/%Y}" if header.generated else ""
    return f"Thời điểm lập: {generated}"
