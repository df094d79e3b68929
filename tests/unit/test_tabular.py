"""Reading tables as offices write them: card numbers Excel mangled, delimiters, headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kycuong.errors import Invalid
from services.tabular import CardFormat, Column, normalise_card, parse_day, read_table

SPEC = (
    Column("code", "Mã cán bộ", required=True),
    Column("full_name", "Họ và tên", ("hoten",), required=True),
)


@given(st.text(alphabet="0123456789", min_size=1, max_size=10))
def test_a_card_of_digits_is_padded_to_the_format_and_keeps_its_value(card: str) -> None:
    value, warnings = normalise_card(card, False, CardFormat(10))
    assert len(value) == 10 and value.isdigit() and int(value) == int(card)
    assert bool(warnings) == (len(card) < 10)


@given(st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=16))
def test_without_a_format_a_card_is_kept_as_written(card: str) -> None:
    assert normalise_card(card, False, CardFormat()) == (card, [])


def test_a_number_cell_is_warned_about_even_at_the_right_length() -> None:
    value, warnings = normalise_card("1234567890", True, CardFormat(10))
    assert value == "1234567890" and "ô kiểu số của Excel" in warnings[0]


@pytest.mark.parametrize("text", ["2.00E+09", "2,00E+09", "2E+09", "1E10"])
def test_a_card_in_exponent_form_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="số mũ"):
        normalise_card(text, False, CardFormat(10))
    if "+" in text:
        with pytest.raises(ValueError, match="số mũ"):
            normalise_card(text, False, CardFormat())


def test_a_hex_card_that_looks_like_an_exponent_is_kept_without_a_format() -> None:
    assert normalise_card("12E4", False, CardFormat()) == ("12E4", [])
    with pytest.raises(ValueError, match="số mũ"):
        normalise_card("12E4", True, CardFormat())  # a number cell: Excel's 12E4 = 120000


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_each_delimiter_is_found_by_the_header_it_makes(delimiter: str) -> None:
    text = delimiter.join(["Ma can bo", "HỌ TÊN"]) + "\n" + delimiter.join(["A1", "Lê, An"])
    if delimiter == ",":
        text = 'Ma can bo,HỌ TÊN\nA1,"Lê, An"'
    table = read_table(text.encode(), "x.csv", SPEC)
    assert [r.values for r in table.rows] == [{"code": "A1", "full_name": "Lê, An"}]


def test_a_chosen_encoding_that_does_not_fit_says_so() -> None:
    with pytest.raises(Invalid, match="không phải bảng mã UTF-8"):
        read_table(
            "Mã cán bộ,Họ tên\n".encode("cp1258", "replace") + b"\xe0\n",
            "x.csv",
            SPEC,
            encoding="utf-8",
        )


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("01/03/2024", "2024-03-01"),
        ("1/3/2024", "2024-03-01"),
        ("2024-03-01", "2024-03-01"),
        ("01.03.2024", "2024-03-01"),
    ],
)
def test_dates_as_offices_write_them(text: str, day: str) -> None:
    assert parse_day(text, "Ngày").isoformat() == day


def test_a_bad_date_names_the_column() -> None:
    with pytest.raises(ValueError, match="Ngày bắt đầu: “31/02/2024” không phải ngày hợp lệ"):
        parse_day("31/02/2024", "Ngày bắt đầu")
