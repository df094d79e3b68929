"""Reading tables as offices write them: card numbers Excel mangled, delimiters, headers."""

from __future__ import annotations

import io
import itertools
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping

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


# Zip bombs: an XLSX is a zip, and a few hundred KB can unpack to gigabytes or millions of rows.

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Mã cán bộ'
    '</t></is></c><c r="B1" t="inlineStr"><is><t>Họ và tên</t></is></c></row>'
)


def _xlsx(sheet: Iterable[str], extra: Mapping[str, Iterable[bytes]] | None = None) -> bytes:
    """A minimal workbook whose first sheet's XML is ``sheet``, written as it streams."""
    ns = "http://schemas.openxmlformats.org"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{ns}/package/2006/content-types"><Default Extension="rels" '
            f'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/><Override '
            'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        rel = f"{ns}/officeDocument/2006/relationships"
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{rel}"><sheets><sheet '
            'name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            for chunk in sheet:
                f.write(chunk.encode())
        for name, chunks in (extra or {}).items():
            with z.open(name, "w", force_zip64=True) as f:
                for part in chunks:
                    f.write(part)
    return out.getvalue()


def test_a_sheet_of_millions_of_blank_rows_is_refused_without_reading_them_all() -> None:
    blank = "<row><c/></row>" * 10_000

    def sheet() -> Iterator[str]:
        yield _HEAD
        yield from itertools.repeat(blank, 300)  # three million rows, ≈ 150 KB zipped
        yield '<row><c t="inlineStr"><is><t>E1</t></is></c></row></sheetData></worksheet>'

    content = _xlsx(sheet())
    assert len(content) < 1_000_000
    started = time.perf_counter()
    with pytest.raises(Invalid, match="quá nhiều dòng") as refused:
        read_table(content, "bom.xlsx", SPEC, max_rows=1000)
    assert refused.value.code == "too_many_rows"
    assert time.perf_counter() - started < 5  # stopped near the limit, not at the end


def test_an_xlsx_that_unpacks_to_more_than_the_limit_is_refused_before_unpacking() -> None:
    megabyte = b"A" * (1 << 20)
    bomb = {"xl/media/filler.bin": itertools.repeat(megabyte, 130)}
    content = _xlsx([_HEAD, "</sheetData></worksheet>"], bomb)
    assert len(content) < 1_000_000
    with pytest.raises(Invalid, match="giải nén") as refused:
        read_table(content, "bom.xlsx", SPEC, max_rows=1000)
    assert refused.value.code == "file_too_large"
