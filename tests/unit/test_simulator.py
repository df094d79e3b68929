"""The office-day simulator: realistic, deterministic, and with every trap it promises."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from devices.simulator import (
    Badge,
    day_seed,
    due,
    is_working_day,
    last_working_day,
    office_day,
    sent_up_to,
)

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


def test_today_so_far_is_what_the_readers_had_sent_by_then() -> None:
    """The quickstart's today at 07:40: arrivals up to then, the offline reader's punches
    since 07:25 not yet (it is behind from 07:25), all of it by the evening."""
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    plan = office_day(BADGES, ["A", "B"], DAY, tz=vn, seed=day_seed(2, DAY))
    at_0740 = datetime(2026, 11, 23, 7, 40, tzinfo=vn)
    sent = due(plan, at_0740)
    assert sent and all(e.at <= at_0740 for e in sent)
    held = [e for e in plan.events if e.device_id == "B" and e.at < at_0740 and e not in sent]
    assert held and all(e.at >= datetime(2026, 11, 23, 7, 25, tzinfo=vn) for e in held)
    assert sent_up_to(plan, "B", at_0740) == datetime(2026, 11, 23, 7, 25, tzinfo=vn)
    assert sent_up_to(plan, "A", at_0740) == at_0740
    evening = datetime(2026, 11, 23, 20, 0, tzinfo=vn)
    assert due(plan, evening) == plan.events and sent_up_to(plan, "B", evening) == evening
    assert due(plan, datetime(2026, 11, 23, 6, 0, tzinfo=vn)) == []


def test_each_date_has_its_own_plan_and_weekends_and_holidays_have_none() -> None:
    monday, tuesday = DAY, date(2026, 11, 24)
    assert day_seed(2, monday) == day_seed(2, monday) != day_seed(2, tuesday)
    late = [office_day(BADGES, ["A"], d, seed=day_seed(2, d)).late for d in (monday, tuesday)]
    assert late[0] != late[1]
    assert is_working_day(monday) and not is_working_day(date(2026, 11, 28))  # a Saturday
    assert not is_working_day(date(2026, 9, 2))  # Quốc khánh
