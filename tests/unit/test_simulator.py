"""The office-day simulator: realistic, deterministic, and with every trap it promises."""

from __future__ import annotations

from collections import Counter
from datetime import date, time

from devices.simulator import Badge, last_working_day, office_day

BADGES = [Badge(f"E{i:04d}", f"C{i:06d}") for i in range(500)]
DAY = date(2026, 11, 23)


def test_same_seed_gives_the_same_day_and_event_ids_are_unique() -> None:
    first = office_day(BADGES, ["A", "B"], DAY, seed=3)
    assert first == office_day(BADGES, ["A", "B"], DAY, seed=3)
    ids = [(e.device_id, e.event_id) for e in first.events]
    assert len(ids) == len(set(ids))


def test_absent_people_never_punch_and_late_ones_arrive_after_the_grace() -> None:
    plan = office_day(BADGES, ["A", "B"], DAY, seed=5)
    cards = {b.employee_code: b.card for b in BADGES}
    punched = {e.card for e in plan.events}
    assert plan.absent and not {cards[c] for c in plan.absent} & punched
    firsts: dict[str, time] = {}
    for event in sorted(plan.events, key=lambda e: e.at):
        firsts.setdefault(event.card, event.at.timetz())
    assert plan.late
    assert all(firsts[cards[c]] > time(7, 35) for c in plan.late)
    on_time = [
        firsts[cards[b.employee_code]]
        for b in BADGES
        if b.employee_code not in plan.late | plan.absent
    ]
    assert all(t <= time(7, 35) for t in on_time)
    assert 0.01 < len(plan.absent) / len(BADGES) < 0.08
    assert 0.05 < len(plan.late) / len(BADGES) < 0.16


def test_traps_are_there_double_taps_unknown_card_offline_backlog_malformed() -> None:
    plan = office_day(BADGES, ["A", "B"], DAY, seed=2)
    per_card = Counter(e.card for e in plan.events)
    assert plan.unknown_card in per_card and all(b.card != plan.unknown_card for b in BADGES)
    assert sum(1 for e in plan.events if e.kind == "malformed") == 1
    delayed = [e for e in plan.events if e.publish_at is not None]
    assert delayed and {e.device_id for e in delayed} == {plan.offline_device}
    assert all(e.publish_at is not None and e.publish_at > e.at for e in delayed)
    assert max(per_card.values()) >= 5  # in, lunch out, lunch in, out, and a double tap


def test_last_working_day_skips_weekends_and_public_holidays() -> None:
    assert last_working_day(date(2026, 11, 23)) == date(2026, 11, 20)  # Monday -> Friday
    assert last_working_day(date(2026, 11, 25)) == date(2026, 11, 23)  # 24/11 Ngày Văn hóa
    assert last_working_day(date(2026, 9, 3)) == date(2026, 8, 28)  # Quốc khánh 1-2/9, nghỉ bù 31/8
