"""The monthly kỷ luật score on the hand-made month's three people (worked out by hand)."""

from __future__ import annotations

import pytest

from rules.discipline_score import MonthRecord, ScoreRule, suggest_score

RULE = ScoreRule()


def test_a_month_on_time_keeps_the_full_score_and_no_flag() -> None:
    s = suggest_score(MonthRecord(working_days=20), RULE)
    assert (s.score, s.deductions, s.flag) == (5.0, (), None)


def test_one_late_arrival_costs_half_a_point_and_leaves_excellence_open() -> None:
    # 1 late × 0.5 = 0.5 → 4.5; 1 event ≤ 2 allowed for excellence.
    s = suggest_score(MonthRecord(working_days=19, late_count=1, late_minutes=20), RULE)
    assert s.score == 4.5
    assert [d.code for d in s.deductions] == ["late_or_early"]
    assert "Đi muộn 1 lượt (20 phút)" in s.deductions[0].text
    assert s.flag is None


def test_two_unexcused_days_cost_four_points_and_block_a_good_rating() -> None:
    # 2 days × 2 = 4 → 1.0; 2 days > 1 allowed for "hoàn thành tốt".
    s = suggest_score(MonthRecord(working_days=20, absent_days=2.0), RULE)
    assert s.score == 1.0
    assert s.flag == "not_good"
    assert s.flag_text is not None and "Hoàn thành tốt" in s.flag_text
    assert s.deductions[0].text == "Nghỉ không lý do 2 ngày"


def test_half_a_day_absent_blocks_excellence_only() -> None:
    s = suggest_score(MonthRecord(working_days=20, absent_days=0.5), RULE)
    assert (s.score, s.flag) == (4.0, "not_excellent")


def test_three_late_arrivals_block_excellence() -> None:
    s = suggest_score(MonthRecord(working_days=20, late_count=2, early_count=1), RULE)
    assert (s.score, s.flag) == (3.5, "not_excellent")


def test_missing_punches_are_tolerated_up_to_the_configured_number() -> None:
    assert suggest_score(MonthRecord(working_days=20, missing_punches=2), RULE).score == 5.0
    assert suggest_score(MonthRecord(working_days=20, missing_punches=4), RULE).score == 4.5


def test_the_score_never_goes_below_zero() -> None:
    s = suggest_score(MonthRecord(working_days=20, absent_days=10), RULE)
    assert s.score == 0.0


def test_an_agency_sets_its_own_figures_and_source_and_a_misspelt_key_is_refused() -> None:
    from pydantic import ValidationError

    from kycuong.settings import Settings

    rule = ScoreRule.with_overrides(
        {"per_absent_day": 3, "tolerated_late_or_early": 1.0, "source": "Quy chế của Sở"}
    )
    assert (rule.per_absent_day, rule.tolerated_late_or_early, rule.source) == (
        3.0,
        1,
        "Quy chế của Sở",
    )
    # one day absent: 5 − 3 (not 5 − 2); the one late arrival is tolerated
    month = MonthRecord(working_days=20, late_count=1, late_minutes=10, absent_days=1)
    assert suggest_score(month, rule).score == 2.0
    assert suggest_score(month, RULE).score == 2.5
    with pytest.raises(ValueError, match="per_absent_days"):
        ScoreRule.with_overrides({"per_absent_days": 3})
    with pytest.raises(ValueError, match="số không âm"):
        ScoreRule.with_overrides({"per_absent_day": -1})
    with pytest.raises(ValidationError, match="không có mục"):
        Settings(score_rule={"per_absent_days": 3})
    assert Settings(score_rule={"per_absent_day": 1}).score_rule == {"per_absent_day": 1}
