"""Report periods cut at the last closed day, and worksheet names shortened by rule."""

from __future__ import annotations

from datetime import date

import pytest

from services.documents.period import Invalid, report_period
from services.documents.sheets import sheet_titles, shorten


def test_a_year_pulled_on_the_first_of_december_counts_to_the_thirtieth_of_november() -> None:
    p = report_period("year", 2026, None, None, today=date(2026, 12, 1))
    assert (p.first, p.last, p.end, p.complete) == (
        date(2026, 1, 1),
        date(2026, 11, 30),
        date(2026, 12, 31),
        False,
    )
    assert p.label == "Năm 2026, tính đến 30/11/2026 (từ 01/01/2026 đến 30/11/2026)"


def test_a_month_pulled_mid_month_says_so() -> None:
    p = report_period("month", 2026, 11, None, today=date(2026, 11, 16))
    assert p.label == "Tháng 11/2026, tính đến 15/11/2026 (từ 01/11/2026 đến 15/11/2026)"


def test_a_period_that_is_over_keeps_its_plain_label() -> None:
    p = report_period("quarter", 2026, None, 3, today=date(2026, 12, 1))
    assert p.complete and p.label == "Quý 3/2026 (từ 01/07/2026 đến 30/09/2026)"


def test_a_period_with_no_closed_day_is_refused_in_vietnamese() -> None:
    with pytest.raises(Invalid) as error:
        report_period("month", 2026, 12, None, today=date(2026, 12, 1))
    assert error.value.code == "period_not_started" and "chưa có ngày nào" in error.value.message


def test_a_long_unit_name_is_shortened_between_words_and_stays_readable() -> None:
    title = shorten("Phòng Tổ chức, biên chế và tổ chức phi chính phủ")
    assert len(title) <= 31 and title.startswith("P. Tổ chức, biên chế") and title.endswith("…")
    assert not title[:-1].endswith(" ")


def test_names_that_shorten_alike_stay_distinct_and_never_take_a_reserved_name() -> None:
    names = [
        "Trung tâm Phục vụ hành chính công tỉnh - cơ sở 1",
        "Trung tâm Phục vụ hành chính công tỉnh - cơ sở 2",
        "tổng hợp",
    ]
    titles = sheet_titles(names, reserved=["Tổng hợp"])
    assert len({t.casefold() for t in titles}) == 3
    assert all(len(t) <= 31 for t in titles)
    assert titles[2] == "tổng hợp (2)"
    assert titles[0].endswith("…") and titles[1].endswith("cơ sở 2")


def test_identical_names_are_numbered() -> None:
    assert sheet_titles(["Phòng Một", "Phòng Một"]) == ["Phòng Một", "Phòng Một (2)"]
    assert sheet_titles(["Phòng Tài chính kế toán"] * 2)[1] == "Phòng Tài chính kế toán (2)"
