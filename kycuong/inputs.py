"""What people type, read once for every adapter (CLI, JSON API, pages): dates as
dd/mm/yyyy (ISO too) and choices by their Vietnamese label or their code.

A refusal is an ``Invalid`` that names the field and, for a choice, the accepted values.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator

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
        f"{field}: “{raw}” không phải ngày hợp lệ (nhập dạng dd/mm/yyyy, ví dụ 15/11/2026)",
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
        f"{field}: “{raw}” không hợp lệ; chọn một trong: {accepted(vocabulary)}",
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
