"""Tables as offices send them (bảng tính): CSV or XLSX read into rows of named fields.

CSV in UTF-8 (with or without BOM), UTF-16 (with BOM) or Windows-1258 (what Vietnamese
Windows Excel writes as "CSV (Comma delimited)"), detected by charset-normalizer or chosen by
the user; `,` `;` or tab; XLSX whose header row sits below title rows. Headers are matched in
Vietnamese (with or without diacritics, any case) or English and named in Vietnamese in every
message. A file that cannot be read raises one ``Invalid`` saying what to do.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from kycuong import inputs
from kycuong.errors import Invalid

SAVE_AS = "Hãy lưu tệp dưới dạng CSV UTF-8 hoặc Excel (.xlsx) rồi gửi lại."
HEADER_SEARCH_ROWS = 30  # title rows (tên cơ quan, tiêu đề, ngày lập) seen above a header

# What the user may choose in "Bảng mã" (code → label); "" lets the file tell.
ENCODINGS = {
    "": "Tự nhận biết",
    "utf-8": "UTF-8",
    "utf-16": "UTF-16 (Unicode)",
    "cp1258": "Windows-1258 (Excel tiếng Việt cũ)",
}
_ENCODING_LABELS = {
    "utf_8": "UTF-8",
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf_16": "UTF-16",
    "utf-16": "UTF-16",
    "utf_16_le": "UTF-16",
    "utf_16_be": "UTF-16",
    "cp1258": "Windows-1258",
    "cp1252": "Windows-1252",
}
_DELIMITERS = {",": "dấu phẩy", ";": "dấu chấm phẩy", "\t": "tab"}


@dataclass(frozen=True, slots=True)
class Column:
    """A field a file may carry: its name in code, its Vietnamese header, accepted headers."""

    field: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = False

    def keys(self) -> set[str]:
        return {normalise_header(self.label), *(normalise_header(a) for a in self.aliases)}


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: ``line`` as the clerk sees it (Excel's row number), values by field.

    ``numeric`` names the fields whose cell was a number in Excel (leading zeros lost).
    """

    line: int
    values: dict[str, str]
    numeric: frozenset[str] = frozenset()

    def get(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass(frozen=True, slots=True)
class Table:
    """A file read: its rows, the fields found, and what was noticed on the way (Vietnamese)."""

    rows: list[Row]
    fields: frozenset[str]
    notes: list[str] = field(default_factory=list)


def normalise_header(text: str) -> str:
    """'Mã đơn vị (*)' -> 'madonvi': no diacritics, no spaces, no bracketed hints, lower case."""
    text = re.sub(r"\(.*?\)|\[.*?\]", "", text).replace("đ", "d").replace("Đ", "D")
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
    )
    return "".join(c for c in stripped.lower() if c.isalnum())


def read_table(
    content: bytes,
    filename: str,
    columns: Iterable[Column],
    *,
    encoding: str = "",
    max_rows: int | None = None,
) -> Table:
    """Read ``content`` (CSV or XLSX, told apart by content, not by name) into rows.

    ``encoding`` is a key of :data:`ENCODINGS` ("" detects). Raises ``Invalid`` with one
    Vietnamese sentence when the file cannot be read, has no header row, lacks a required
    column, or has more than ``max_rows`` data rows.
    """
    spec = list(columns)
    if not content.strip():
        raise Invalid("empty_file", "Tệp trống. " + SAVE_AS)
    if content[:4] == b"\xd0\xcf\x11\xe0":
        raise Invalid(
            "unsupported_file",
            "Tệp Excel 97-2003 (.xls) chưa được hỗ trợ: hãy mở tệp bằng Excel, chọn Lưu thành "
            "“Sổ làm việc Excel (.xlsx)” hoặc “CSV UTF-8” rồi gửi lại.",
        )
    grid: Iterable[tuple[int, list[Cell]]]
    if content[:4] == b"PK\x03\x04":
        grid, notes = _xlsx_rows(content, _read_limit(max_rows))
    elif filename.lower().endswith((".xlsx", ".xlsm")):
        raise Invalid("unreadable_file", "Tệp .xlsx bị hỏng hoặc không phải tệp Excel. " + SAVE_AS)
    else:
        grid, notes = _csv_rows(content, encoding, spec)
    return _table(grid, spec, notes, max_rows)


# A cell: its text and whether Excel stored it as a number.
Cell = tuple[str, bool]


def _table(
    grid: Iterable[tuple[int, list[Cell]]],
    spec: list[Column],
    notes: list[str],
    max_rows: int | None,
) -> Table:
    rows_iter = iter(grid)
    head: list[tuple[int, list[Cell]]] = []
    for item in rows_iter:
        head.append(item)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    found = _find_header(head, spec)
    if found is None:
        names = ", ".join(c.label for c in spec if c.required)
        raise Invalid(
            "no_header",
            f"Không tìm thấy dòng tiêu đề trong tệp: cần các cột {names}. "
            "Hãy kiểm tra tệp đúng loại và dòng tiêu đề nằm trong 30 dòng đầu.",
        )
    index, mapping, ignored = found
    header_line = head[index][0]
    missing = [c.label for c in spec if c.required and c.field not in mapping.values()]
    if missing:
        raise Invalid("missing_columns", f"Thiếu cột bắt buộc: {', '.join(missing)}")
    if header_line > 1:
        notes.append(f"Dòng tiêu đề là dòng {header_line}; các dòng phía trên được bỏ qua.")
    if ignored:
        notes.append(f"Bỏ qua các cột không dùng: {', '.join(ignored)}.")
    rows: list[Row] = []
    required = [c.field for c in spec if c.required]
    # A signature block below the data (Người lập biểu, Thủ trưởng đơn vị, "ngày … tháng …
    # năm …", then the names) is held apart from its first line on: it is the footer, skipped
    # with a note, unless a complete data row follows it (then its lines are rows like any).
    footer: list[tuple[Row, bool]] = []  # the lines held, and whether each has any text
    footer_mark = ""
    # Read lazily and bounded: every line counts, blank ones too (a zip of millions of empty
    # rows is a few hundred KB), so a file is refused as soon as it passes the limit.
    read_limit = _read_limit(max_rows)
    for count, (line, cells) in enumerate(itertools.chain(head[index + 1 :], rows_iter)):
        if read_limit is not None and count + index + 1 > read_limit:
            raise _too_many_rows(max_rows)
        values: dict[str, str] = {}
        numeric: set[str] = set()
        for position, name in mapping.items():
            if position < len(cells):
                text, is_number = cells[position]
                values[name] = text
                if is_number and text:
                    numeric.add(name)
        row = Row(line, values, frozenset(numeric))
        filled = sum(1 for name in required if values.get(name))
        if filled == len(required):
            rows.extend(r for r, _ in footer if any(r.values.values()))
            footer = []
        elif footer:
            footer.append((row, any(text for text, _ in cells)))
            continue
        # A data row with a value missing (a code and a name, no unit) is refused, not skipped:
        # a signature line fills one required column at most, or only with signers' words
        # ("Người lập biểu" under the code, "Thủ trưởng đơn vị" under the unit).
        elif (
            rows
            and (filled <= 1 or _only_signers(values, required))
            and (mark := _footer_mark(cells)) is not None
        ):
            footer, footer_mark = [(row, True)], mark
            continue
        if not any(values.values()):
            continue
        rows.append(row)
        if max_rows is not None and len(rows) > max_rows:
            raise _too_many_rows(max_rows)
    if footer:
        written = sum(1 for _, filled in footer if filled)
        notes.append(
            f"Bỏ qua phần ký tên cuối tệp từ dòng {footer[0][0].line} "
            f"(“{inputs.quoted(footer_mark)}”): "
            f"{written} dòng không phải dữ liệu."
        )
    if not rows:
        raise Invalid("no_rows", "Tệp không có dòng dữ liệu nào dưới dòng tiêu đề.")
    return Table(rows, frozenset(mapping.values()), notes)


# Words that open the signature block of a Vietnamese form (phần ký tên cuối biểu mẫu),
# compared without diacritics, case or spaces, at the start of a cell.
FOOTER_MARKS = (
    "nguoilapbieu",
    "nguoilap",
    "nguoiky",
    "nguoiduyet",
    "nguoichamcong",
    "nguoikiemtra",
    "phutrachbophan",
    "thutruong",
    "ketoantruong",
    "truongphong",
    "giamdoc",
    "chanhvanphong",
    "xacnhan",
    "kyghiro",
    "kytenghiro",
    "kytendongdau",
    "kyvadongdau",
    "kyhoten",
    "tongcong",
    "tongso",
    "noinhan",
)
_FOOTER_DATE = re.compile(r"ngay\d{0,2}thang\d{0,2}nam\d{0,4}")


def _only_signers(values: dict[str, str], required: list[str]) -> bool:
    """Whether every filled required value of a line opens a signature block."""
    filled = [values[name] for name in required if values.get(name)]
    return all(_footer_mark([(text, False)]) is not None for text in filled)


def _footer_mark(cells: list[Cell]) -> str | None:
    """The cell text that opens a signature block below the data, if this line has one."""
    for text, is_number in cells:
        if is_number or not text:
            continue
        key = normalise_header(re.sub(r"[()\[\]]", " ", text))
        if key.startswith(FOOTER_MARKS) or _FOOTER_DATE.search(key):
            return " ".join(text.split())[:60]
    return None


def _read_limit(max_rows: int | None) -> int | None:
    """How many lines, blank ones included, may be read for ``max_rows`` data rows."""
    return None if max_rows is None else 2 * max_rows + HEADER_SEARCH_ROWS


def _too_many_rows(max_rows: int | None) -> Invalid:
    message = f"Tệp có quá nhiều dòng (tối đa {max_rows or 0:,} dòng)".replace(",", ".")
    return Invalid("too_many_rows", message, [message])


def _find_header(
    head: list[tuple[int, list[Cell]]], spec: list[Column]
) -> tuple[int, dict[int, str], list[str]] | None:
    """The first row matching the most known headers (the required ones are checked after)."""
    keys = [(c.field, c.keys()) for c in spec]
    best: tuple[int, dict[int, str], list[str]] | None = None
    for index, (_, cells) in enumerate(head):
        mapping: dict[int, str] = {}
        ignored: list[str] = []
        for position, (text, _) in enumerate(cells):
            key = normalise_header(text)
            if not key:
                continue
            name = next((f for f, ks in keys if key in ks and f not in mapping.values()), None)
            if name is None:
                ignored.append(text.strip())
            else:
                mapping[position] = name
        if mapping and (best is None or len(mapping) > len(best[1])):
            best = (index, mapping, ignored)
    return best


def _xlsx_rows(
    content: bytes, read_limit: int | None = None
) -> tuple[Iterator[tuple[int, list[Cell]]], list[str]]:
    """The first sheet's rows, read lazily (a huge sheet is refused by its row count)."""
    from openpyxl import load_workbook

    with _unreadable_excel():
        _refuse_zip_bomb(content, read_limit)
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # a declared A1:XFD1048576 would pad every row
    notes = []
    if len(book.worksheets) > 1:
        notes.append(f"Chỉ đọc trang tính đầu tiên (“{inputs.quoted(sheet.title)}”).")

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        with _unreadable_excel():
            lines = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
            for line, values in enumerate(lines, start=1):
                yield line, [_cell(v) for v in values]

    return rows(), notes


# An XLSX is a zip: what it unpacks to is bounded before anything is unpacked. A 5 MB sheet of
# ordinary rows unpacks to about 60 MB; a zip bomb of 1 MB unpacks to gigabytes.
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_ZIP_MEMBERS = 1000


MAX_COLUMNS = 256  # an import has a dozen columns; Excel allows 16,384


def _refuse_zip_bomb(content: bytes, read_limit: int | None) -> None:
    """Refuse an XLSX that unpacks to too much, or whose sheets hold more rows than may be
    read: counted at C speed before openpyxl, which scans every sheet that declares no size."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise Invalid(
                "file_too_large",
                "Tệp Excel quá lớn khi giải nén (tối đa 128 MB): hãy chia nhỏ tệp hoặc xóa các "
                "trang tính, hình ảnh không cần thiết rồi gửi lại.",
            )
        if read_limit is None:
            return
        sheets = [m for m in members if re.fullmatch(r"xl/worksheets/[^/]+\.xml", m.filename)]
        if any(_rows_in(archive, sheet) > read_limit for sheet in sheets):
            raise _too_many_rows((read_limit - HEADER_SEARCH_ROWS) // 2)


def _rows_in(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """The ``<row`` elements of a sheet (with or without a namespace prefix)."""

    def rows(text: bytes) -> int:
        return text.count(b"<row") + text.count(b":row ")

    count, tail = 0, b""
    with archive.open(member) as source:
        while chunk := source.read(1 << 20):
            text = tail + chunk  # a tag cut between two chunks is seen whole, counted once
            count += rows(text) - rows(tail)
            tail = text[-5:]
    return count


@contextmanager
def _unreadable_excel() -> Iterator[None]:
    try:
        yield
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError, OSError) as exc:
        raise Invalid("unreadable_file", "Tệp Excel bị hỏng, không đọc được. " + SAVE_AS) from exc
    except Exception as exc:
        # openpyxl's InvalidFileException and its kin derive from Exception only.
        if type(exc).__module__.startswith(("openpyxl", "xml")):
            raise Invalid(
                "unreadable_file", "Tệp Excel bị hỏng, không đọc được. " + SAVE_AS
            ) from exc
        raise


def _cell(value: object) -> Cell:
    if value is None:
        return "", False
    if isinstance(value, datetime):
        return value.date().isoformat(), False
    if isinstance(value, date):
        return value.isoformat(), False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer():
            return str(int(value)), True
        return str(value), True
    return unicodedata.normalize("NFC", str(value)).strip(), False


def decode(content: bytes, encoding: str = "") -> tuple[str, str]:
    """The text of a CSV and the name of its encoding (for the notes).

    A BOM decides; then strict UTF-8; then charset-normalizer among the encodings Vietnamese
    offices write. Windows-1258 writes tone marks as combining characters: the text is
    returned composed (NFC) so "Nguyễn" typed and "Nguyễn" read compare equal.
    """
    if encoding:
        codec = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "cp1258": "cp1258"}.get(encoding)
        if codec is None:
            raise Invalid("invalid_encoding", "Bảng mã không hợp lệ")
        try:
            text = content.decode(codec)
        except UnicodeError as exc:
            raise Invalid(
                "unreadable_file",
                f"Tệp không phải bảng mã {ENCODINGS[encoding]}: hãy chọn “Tự nhận biết” "
                "hoặc lưu tệp dưới dạng CSV UTF-8.",
            ) from exc
        return _clean(text), ENCODINGS[encoding]
    if content.startswith(b"\xef\xbb\xbf"):
        codec = "utf-8-sig"
    elif content.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16"
    else:
        try:
            return _clean(content.decode("utf-8")), "UTF-8"
        except UnicodeDecodeError:
            codec = _detect(content)
    try:
        text = content.decode(codec)
    except UnicodeError as exc:
        raise Invalid("unreadable_file", "Không nhận ra bảng mã của tệp. " + SAVE_AS) from exc
    return _clean(text), _ENCODING_LABELS.get(codec, codec)


def _detect(content: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(
        content[:200_000],
        cp_isolation=["utf_16_le", "utf_16_be", "cp1258", "cp1252"],
    ).best()
    if best is None:
        raise Invalid("unreadable_file", "Không nhận ra bảng mã của tệp. " + SAVE_AS)
    return str(best.encoding)


def _clean(text: str) -> str:
    if "\x00" in text:
        raise Invalid("unreadable_file", "Tệp không phải tệp văn bản CSV. " + SAVE_AS)
    return unicodedata.normalize("NFC", text.removeprefix("\ufeff"))


def _csv_rows(
    content: bytes, encoding: str, spec: list[Column]
) -> tuple[list[tuple[int, list[Cell]]], list[str]]:
    """Rows of the delimiter (`,` `;` tab) under which the header row matches best."""
    text, codec = decode(content, encoding)
    best: tuple[int, str, list[tuple[int, list[Cell]]]] | None = None
    for delimiter in _DELIMITERS:
        try:
            records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            raise Invalid("unreadable_file", "Tệp CSV bị lỗi định dạng. " + SAVE_AS) from exc
        grid = [
            (line, [(cell.strip(), False) for cell in record])
            for line, record in enumerate(records, start=1)
        ]
        found = _find_header(grid[:HEADER_SEARCH_ROWS], spec)
        score = len(found[1]) if found else 0
        if best is None or score > best[0]:
            best = (score, delimiter, grid)
    assert best is not None
    notes = [f"Đọc tệp CSV bảng mã {codec}, phân cách bằng {_DELIMITERS[best[1]]}."]
    return best[2], notes


def parse_day(text: str, label: str) -> date:
    """A date as offices write it (``kycuong.inputs.parse_day``: dd/mm/yyyy, ISO, dd-mm-yyyy, …).

    Raises ``ValueError`` with a Vietnamese message naming the column ``label``.
    """
    try:
        return inputs.parse_day(text, label)
    except Invalid as exc:
        raise ValueError(exc.message) from None


@dataclass(frozen=True, slots=True)
class CardFormat:
    """How an agency's readers write a card number: ``digits`` with leading zeros, or as is."""

    digits: int | None = None


def normalise_card(text: str, from_number_cell: bool, fmt: CardFormat) -> tuple[str, list[str]]:
    """The card number as the readers send it, and warnings for the clerk.

    Excel drops leading zeros (``2000101`` for ``0002000101``) and writes long numbers as
    ``2,00E+09``; both are caught here. Raises ``ValueError`` (Vietnamese) for a value that
    cannot be a card of this format.
    """
    value = text.strip().replace(" ", "")
    warnings: list[str] = []
    # "2,00E+09" is always Excel's; a bare "12E4" may be a hex card unless cards are digits.
    bare = re.fullmatch(r"\d+[eE]\d+", value) and (fmt.digits or from_number_cell)
    if bare or re.fullmatch(r"\d+([.,]\d+[eE]\+?|[eE]\+)\d+", value):
        raise ValueError(
            f"Số thẻ “{inputs.quoted(text.strip())}” đã bị Excel đổi sang dạng số mũ, mất chữ số: "
            "hãy định dạng cột Số thẻ là Văn bản (Text) và nhập lại số thẻ"
        )
    if from_number_cell:
        warnings.append(
            f"Số thẻ {inputs.quoted(value)} nằm trong ô kiểu số của Excel (có thể đã mất số 0 ở "
            "đầu): nên định dạng cột Số thẻ là Văn bản (Text)"
        )
    if fmt.digits is not None:
        if not value.isdigit():
            raise ValueError(f"Số thẻ “{inputs.quoted(value)}” phải gồm {fmt.digits} chữ số")
        if len(value) > fmt.digits:
            raise ValueError(f"Số thẻ {inputs.quoted(value)} dài hơn {fmt.digits} chữ số")
        if len(value) < fmt.digits:
            padded = value.zfill(fmt.digits)
            warnings.append(
                f"Số thẻ {value} thiếu số 0 ở đầu, đã đổi thành {padded} ({fmt.digits} chữ số)"
            )
            value = padded
    return value, warnings
