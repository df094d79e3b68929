"""What people type, read once for every adapter (CLI, JSON API, pages): dates as
dd/mm/yyyy (ISO too), choices by their Vietnamese label or their code, and free text (notes,
reasons) without the hidden controls that reverse what others read.

A refusal is an ``Invalid`` that names the field and, for a choice, the accepted values.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from kycuong.errors import Invalid

DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y")


def parse_day(text: str | date, field: str = "Ngày") -> date:
    """A date as people type it: dd/mm/yyyy, yyyy-mm-dd, dd-mm-yyyy or dd.mm.yyyy.

    Raises ``Invalid`` (code ``invalid_date``) naming ``field`` and the expected shape.
    """
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    raw = str(text).strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise Invalid(
        "invalid_date",
        f"{field}: “{quoted(raw)}” không phải ngày hợp lệ (nhập dạng dd/mm/yyyy, ví dụ 15/11/2026)",
    )


def plain(text: str) -> str:
    """Lower case, no diacritics, punctuation as spaces, single spaces: how two spellings of a
    label or code are compared ("Văn thư, tổ chức cán bộ" ~ "van thu to chuc can bo",
    "unit_head" ~ "unit-head")."""
    bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    kept = "".join(c if c.isalnum() else " " for c in bare if unicodedata.category(c) != "Mn")
    return " ".join(kept.lower().split())


def accepted(vocabulary: Mapping[str, str]) -> str:
    """The accepted values of a choice as a message lists them: ``code (Nhãn)``, …"""
    return ", ".join(f"{code} ({label})" for code, label in vocabulary.items())


def choice(vocabulary: Mapping[str, str], text: str, field: str) -> str:
    """The code of a choice typed as its code or its Vietnamese label (with or without
    diacritics, any case); raises ``Invalid`` listing the accepted values."""
    raw = str(text).strip()
    if raw in vocabulary:
        return raw
    wanted = plain(raw)
    for code, label in vocabulary.items():
        if wanted in (plain(code), plain(label)):
            return code
    raise Invalid(
        "invalid_choice",
        f"{field}: “{quoted(raw)}” không hợp lệ; chọn một trong: {accepted(vocabulary)}",
    )


def _day_value(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_day(value)
        except Invalid as exc:
            raise ValueError(exc.message) from None
    return value


def _choice_value(vocabulary: Mapping[str, str], field: str) -> Callable[[object], object]:
    def to_code(value: object) -> object:
        if isinstance(value, str):
            try:
                return choice(vocabulary, value, field)
            except Invalid as exc:
                raise ValueError(exc.message) from None
        return value

    return to_code


# For pydantic models and FastAPI parameters: a date typed as dd/mm/yyyy or ISO, and a
# choice given by its code or its Vietnamese label.
Day = Annotated[date, BeforeValidator(_day_value)]


def by_label(vocabulary: Mapping[str, str], field: str) -> BeforeValidator:
    """A validator turning a Vietnamese label (or the code) into the code."""
    return BeforeValidator(_choice_value(vocabulary, field))


# Characters that change how text around them is drawn without being seen: the bidi
# embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the direction marks
# (U+200E, U+200F, U+061C). U+202E in "Đi họp‮gnàt uàb" makes a note read differently in a
# page, an XLSX cell, a PDF or an e-mail than what was typed ("Trojan Source").
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
HIDDEN_CHARACTERS = "hidden_characters"
# In a name, a line break or a tab is refused too (it splits a row of a list or a file): said
# in words beside its code point, since a clerk cannot see it in the cell.
BREAKS = {"\n": "xuống dòng", "\r": "xuống dòng", "\t": "tab"}


def _hidden(ch: str) -> bool:
    """A bidi control, or a C0/C1 control (line breaks and tabs included)."""
    return ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc"


def _refuse_hidden(text: str, field: str | None, allowed: str) -> None:
    """Raise ``hidden_characters`` when ``text`` holds a hidden character not in ``allowed``,
    named by its code point: the one rule for notes and names."""
    found = sorted({ch for ch in text if ch not in allowed and _hidden(ch)})
    if found:
        codes = ", ".join(
            f"U+{ord(ch):04X}" + (f" {BREAKS[ch]}" if ch in BREAKS else "") for ch in found[:3]
        )
        message = (
            f"có ký tự điều khiển ẩn ({codes}) làm đảo hoặc che chữ khi người khác đọc "
            "(thường do dán từ tệp khác). Hãy gõ lại đoạn này rồi gửi lại."
        )
        text = f"{field}: {message}" if field else message[0].upper() + message[1:]
        raise Invalid(HIDDEN_CHARACTERS, text)


def quoted(text: str, limit: int = 40) -> str:
    """What a person typed, as a message quotes it back: each hidden control shown by its
    code point ("[U+202E]"), so a pasted override cannot reverse the rest of the message, and
    a long text cut short ("…")."""
    shown = "".join(f"[U+{ord(ch):04X}]" if _hidden(ch) else ch for ch in text[:limit])
    return shown + ("…" if len(text) > limit else "")


def free_text(text: str, field: str | None = None) -> str:
    """Text a person typed (a note, a reason, an explanation), as it may be stored and shown
    to others: NFC, line breaks as ``\\n``; refused (``Invalid``, code ``hidden_characters``)
    when it holds a character that hides or reverses text, named by its code point."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    _refuse_hidden(text, field, "\n\t")
    return text


def name_text(text: str, field: str) -> str:
    """A name others read in lists, files and e-mails (a person's full name, a unit's or an
    agency's name, a title): NFC, trimmed, on one line; refused like ``free_text`` when it
    holds a hidden character, a line break or a tab (``field`` names it in the message)."""
    text = unicodedata.normalize("NFC", text).strip()
    _refuse_hidden(text, field, "")
    return text


def _free_text_value(value: str) -> str:
    try:
        return free_text(value)
    except Invalid as exc:
        # its own error type: adapters find it among pydantic's errors and show the message
        raise PydanticCustomError(HIDDEN_CHARACTERS, exc.message) from None


# For pydantic models and form fields: free text a person typed (notes, reasons).
FreeText = Annotated[str, AfterValidator(_free_text_value)]


def hidden_characters_message(errors: list[Any]) -> str | None:
    """The message of a refused free text among pydantic's errors (``exc.errors()``), if any:
    what a page or the API says instead of a generic "invalid"."""
    for error in errors:
        if error.get("type") == HIDDEN_CHARACTERS:
            return str(error.get("msg", ""))
    return None
