"""Free text people type (notes, reasons, explanations): controls that reverse or hide what
others read are refused with a Vietnamese message; line breaks and tabs are kept."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from kycuong.errors import Invalid
from kycuong.inputs import (
    BIDI_CONTROLS,
    FreeText,
    free_text,
    hidden_characters_message,
    name_text,
)


class Note(BaseModel):
    note: FreeText = ""


@pytest.mark.parametrize("control", sorted(BIDI_CONTROLS))
def test_every_bidi_control_is_refused_by_its_code_point(control: str) -> None:
    with pytest.raises(Invalid) as refused:
        free_text(f"Đi họp{control}gnàt uàb", "Ghi chú")
    assert refused.value.code == "hidden_characters"
    assert f"U+{ord(control):04X}" in refused.value.message
    assert refused.value.message.startswith("Ghi chú: có ký tự điều khiển ẩn")


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b"])
def test_c0_and_c1_controls_are_refused(control: str) -> None:
    with pytest.raises(Invalid):
        free_text(f"a{control}b")


def test_line_breaks_and_tabs_are_kept_and_crlf_becomes_one_newline() -> None:
    assert free_text("Dòng 1\r\nDòng 2\rDòng 3\n\tthụt") == "Dòng 1\nDòng 2\nDòng 3\n\tthụt"


def test_vietnamese_typed_with_combining_marks_is_stored_composed() -> None:
    assert free_text("Nghe\u0302\u0301 phép") == "Nghế phép"


def test_a_model_field_refuses_with_its_own_error_type_and_message() -> None:
    with pytest.raises(ValidationError) as refused:
        Note(note="abc\u202edef")
    message = hidden_characters_message(refused.value.errors())
    assert message is not None and message.startswith("Có ký tự điều khiển ẩn (U+202E)")
    assert Note(note="Họp tại UBND tỉnh\r\n").note == "Họp tại UBND tỉnh\n"


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs"))))
def test_text_without_controls_passes_unless_it_holds_a_bidi_control(text: str) -> None:
    if any(ch in BIDI_CONTROLS for ch in text):
        with pytest.raises(Invalid):
            free_text(text)
    else:
        assert free_text(text) == unicodedata.normalize("NFC", text)


def test_a_name_follows_the_same_rule_and_is_kept_on_one_line() -> None:
    assert name_text("  Nguye\u0302\u0303n Văn An ", "Họ và tên") == "Nguyễn Văn An"
    with pytest.raises(Invalid) as reversed_:
        name_text("Nguyễn Văn \u202enA", "Họ và tên")
    assert reversed_.value.code == "hidden_characters"
    assert reversed_.value.message.startswith("Họ và tên: có ký tự điều khiển ẩn (U+202E)")
    with pytest.raises(Invalid) as broken:
        name_text("Phòng Tổng\nhợp", "Tên đơn vị")
    assert "(U+000A xuống dòng)" in broken.value.message
    assert free_text("Dòng 1\nDòng 2") == "Dòng 1\nDòng 2"  # a note keeps its line breaks


@pytest.mark.parametrize(
    ("typed", "field"),
    [("\u202e12/11/2026", "Từ ngày"), ("31/02\u200f/2026", "Ngày"), ("\x0012/11/2026", "Ngày")],
)
def test_a_date_that_cannot_be_read_is_quoted_with_its_hidden_characters_shown(
    typed: str, field: str
) -> None:
    """The refusal quotes what was typed: a pasted U+202E must not reverse the rest of the
    message the person reads ("“6202/11/21” không phải…" drawn backwards)."""
    from kycuong.inputs import parse_day

    with pytest.raises(Invalid) as refused:
        parse_day(typed, field)
    message = refused.value.message
    assert not any(ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc" for ch in message)
    hidden = next(ch for ch in typed if ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc")
    assert f"[U+{ord(hidden):04X}]" in message


def test_a_long_text_is_quoted_cut_short() -> None:
    from kycuong.inputs import parse_day, quoted

    assert quoted("a" * 100, 10) == "a" * 10 + "…"
    assert quoted("Đi\u202ehọp") == "Đi[U+202E]họp"
    with pytest.raises(Invalid) as refused:
        parse_day("1" * 5000, "Từ ngày")
    assert len(refused.value.message) < 200
