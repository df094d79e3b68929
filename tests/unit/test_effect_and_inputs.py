"""The effect summary of a recompute (rules.effect, pure) and what people type
(kycuong.inputs): dates as dd/mm/yyyy or ISO, choices by code or Vietnamese label."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kycuong.errors import Invalid
from kycuong.inputs import choice, parse_day
from kycuong.labels import EXCUSE, ROLE
from rules.effect import summarize
from rules.evaluate import Violation
from rules.reconcile import StoredViolation, ViolationKey, reconcile

KINDS = ("late", "early_leave", "absent", "missing_in", "missing_out")
violations = st.lists(
    st.builds(
        Violation,
        kind=st.sampled_from(KINDS),
        session=st.sampled_from(("morning", "afternoon")),
        minutes=st.integers(0, 240),
    ),
    max_size=6,
)
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))


@given(st.lists(st.tuples(st.integers(1, 5), days, violations, violations), max_size=8))
def test_the_effect_counts_what_reconcile_would_write(
    cases: list[tuple[int, date, list[Violation], list[Violation]]],
) -> None:
    triples, appear, withdrawn, people, dates = [], 0, 0, set(), []
    for employee, day, before, after in cases:
        stored: dict[ViolationKey, StoredViolation] = {
            (v.session, v.kind): StoredViolation.of(v) for v in before
        }
        for change in reconcile(stored, after):
            triples.append((employee, day, change))
            if change.action in ("detected", "restored"):
                appear += 1
            elif change.action == "withdrawn":
                withdrawn += 1
            else:
                continue
            people.add(employee)
            dates.append(day)
    effect = summarize(triples)
    assert (effect.appear, effect.withdrawn) == (appear, withdrawn)
    assert set(effect.people) == people
    assert sum(k.appear for k in effect.kinds) == appear
    assert sum(k.withdrawn for k in effect.kinds) == withdrawn
    assert effect.first_day == (min(dates) if dates else None)
    assert not effect.needs_confirmation(effect.total)
    assert effect.needs_confirmation(max(effect.total - 1, 0)) == (effect.total > 0)
    ranks = [a + w for _, a, w in effect.per_person]
    assert ranks == sorted(ranks, reverse=True)


def test_a_go_live_that_flags_everyone_needs_confirmation() -> None:
    absent = Violation("absent", "morning", 240)
    first = date(2026, 11, 2)
    triples = [
        (person, first + timedelta(days=d), change)
        for person in range(61)
        for d in range(19)
        for change in reconcile({}, [absent])
    ]
    effect = summarize(triples)
    assert effect.appear == 61 * 19 and effect.withdrawn == 0 and len(effect.people) == 61
    assert effect.first_day == first and effect.needs_confirmation(20)


@pytest.mark.parametrize(
    "typed", ["15/11/2026", "2026-11-15", "15-11-2026", " 15/11/2026 ", "15.11.2026"]
)
def test_a_date_is_read_as_people_type_it(typed: str) -> None:
    assert parse_day(typed) == date(2026, 11, 15)


@pytest.mark.parametrize("typed", ["31/02/2026", "11/15/2026", "hôm qua", ""])
def test_a_wrong_date_names_the_field_and_the_shape(typed: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_day(typed, "Từ ngày")
    assert refused.value.message.startswith("Từ ngày: “")
    assert "dd/mm/yyyy" in refused.value.message


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("annual_leave", "annual_leave"),
        ("Nghỉ phép năm", "annual_leave"),
        ("nghi phep nam", "annual_leave"),
        ("ĐI CÔNG TÁC", "business_trip"),
    ],
)
def test_a_choice_takes_the_code_or_the_label(typed: str, code: str) -> None:
    assert choice(EXCUSE, typed, "Loại lý do") == code


def test_a_refused_choice_lists_the_accepted_values() -> None:
    with pytest.raises(Invalid) as refused:
        choice(ROLE, "sếp", "Vai trò")
    message = refused.value.message
    assert message.startswith("Vai trò: “sếp” không hợp lệ; chọn một trong: ")
    assert all(f"{code} ({label})" in message for code, label in ROLE.items())


def test_an_effect_with_only_details_changed_does_not_say_minutes_changed() -> None:
    """A recompute that turns final absences provisional changes no minutes: the preview
    said "chỉ thay đổi số phút" for them."""
    from services.effects import EffectView, describe

    def effect(appear: int) -> EffectView:
        return EffectView(
            keys=60,
            appear=appear,
            withdrawn=0,
            updated=59,
            people_count=appear,
            first_day=date(2026, 12, 1) if appear else None,
            last_day=date(2026, 12, 1) if appear else None,
            kinds=(),
            people=(),
            threshold=20,
        )

    text = "\n".join(describe(effect(0)) + describe(effect(2)))
    assert "số phút" in text and "thay đổi số phút" not in text
    assert "59 vi phạm vẫn giữ nguyên" not in text
    assert "(59 vi phạm khác vẫn giữ nguyên, chỉ thay đổi chi tiết" in text
    assert "59 vi phạm chỉ thay đổi chi tiết (số phút" in text


def test_a_refused_cli_choice_lists_the_values_as_typed_not_as_python_writes_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--encoding latin1` named "'', 'utf-8', …" (Python's quotes, an empty choice)."""
    from kycuong.cli import main

    with pytest.raises(SystemExit):
        main(["import", "employees", "x.csv", "--encoding", "latin1"])
    err = capsys.readouterr().err
    assert "--encoding: “latin1” không hợp lệ; chọn một trong: utf-8, utf-16, cp1258\n" in err
