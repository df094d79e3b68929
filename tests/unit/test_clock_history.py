"""The clock history a bridge keeps: which offset was in force when an event was made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from devices.clocks import ClockHistory

PLUS7, PLUS8 = timezone(timedelta(hours=7)), timezone(timedelta(hours=8))
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def wall(true: datetime, zone: timezone) -> datetime:
    """Hà Nội wall-clock time of ``true``, labelled with ``zone``."""
    return true.astimezone(PLUS7).replace(tzinfo=zone)


def zone_fixed_at_noon(path: Path | None = None) -> ClockHistory:
    history = ClockHistory(path)
    for minute in range(0, 12 * 60, 1):  # read every minute, +08:00 until 12:00
        at = T0 + timedelta(minutes=minute)
        history.record(wall(at, PLUS8), at)
    for minute in range(12 * 60 + 1, 13 * 60):
        at = T0 + timedelta(minutes=minute)
        history.record(wall(at, PLUS7), at)
    return history


def test_readings_of_one_offset_make_one_spell_and_a_set_clock_another() -> None:
    history = zone_fixed_at_noon()
    assert [round(s.offset_s) for s in history.spells] == [-3600, 0]
    assert history.current == 0


def test_an_event_made_before_the_fix_gets_the_old_offset_though_it_arrives_after() -> None:
    history = zone_fixed_at_noon()
    made = T0 + timedelta(hours=11, minutes=59, seconds=30)
    now = T0 + timedelta(hours=13)
    assert history.offset_for(wall(made, PLUS8), now) == -3600
    assert history.offset_for(wall(now, PLUS7), now) == 0
    assert history.offset_for(wall(T0 + timedelta(hours=3), PLUS8), now) == -3600


def test_an_event_older_than_every_reading_gets_the_first_offset() -> None:
    history = zone_fixed_at_noon()
    made = T0 - timedelta(days=2)
    assert history.offset_for(wall(made, PLUS8), T0 + timedelta(hours=13)) == -3600


def test_the_history_survives_a_restart_of_the_bridge(tmp_path: Path) -> None:
    path = tmp_path / "HIK-1.clock.json"
    zone_fixed_at_noon(path)
    again = ClockHistory(path)
    made = T0 + timedelta(hours=11)
    assert again.offset_for(wall(made, PLUS8), T0 + timedelta(hours=14)) == -3600
    assert len(again.spells) == 2


def test_a_clock_five_minutes_fast_then_set_right_keeps_both_offsets() -> None:
    history = ClockHistory()
    for minute in range(0, 60):
        at = T0 + timedelta(minutes=minute)
        history.record(at + timedelta(minutes=5), at)
    for minute in range(61, 120):
        at = T0 + timedelta(minutes=minute)
        history.record(at, at)
    now = T0 + timedelta(hours=3)
    assert history.offset_for(T0 + timedelta(minutes=35), now) == 300  # made at 00:30
    assert history.offset_for(T0 + timedelta(minutes=90), now) == 0


def test_no_reading_no_offset() -> None:
    assert ClockHistory().offset_for(T0, T0) is None


def test_an_unreadable_history_file_starts_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "broken.clock.json"
    path.write_text("{not json")
    assert ClockHistory(path).spells == []


@pytest.mark.parametrize(
    "text",
    [
        '{"offset_s": 3600, "measured_at": "2026-12-01T00:00:00+00:00"}',  # another shape
        '["-3600"]',
        "[1]",
        '[{"offset_s": 0, "zone_s": null, "first_at": "2026-12-01T00:00:00",'
        ' "last_at": "2026-12-01T00:00:00"}]',  # times without their offset
        '[{"offset_s": "nan", "zone_s": null, "first_at": "2026-12-01T00:00:00+00:00",'
        ' "last_at": "2026-12-01T00:00:00+00:00"}]',
    ],
)
def test_a_history_file_of_another_shape_starts_a_new_one_and_the_bridge_carries_on(
    tmp_path: Path, text: str
) -> None:
    """Read at the bridge's start and on every event: a file it cannot use must neither stop
    the bridge nor fail a terminal's event later (a naive time failed each comparison)."""
    path = tmp_path / "HIK-1.clock.json"
    path.write_text(text)
    history = ClockHistory(path)
    assert history.spells == []
    assert history.record(wall(T0, PLUS8), T0) == -3600
    assert history.offset_for(wall(T0, PLUS8), T0) == -3600
    assert ClockHistory(path).current == -3600  # and what it saves next is readable


def test_a_history_path_that_cannot_be_read_starts_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "HIK-1.clock.json"
    path.mkdir()  # e.g. a volume mounted at the file's place
    history = ClockHistory(path)
    assert history.spells == []
    assert history.record(wall(T0, PLUS8), T0) == -3600  # not saved, still measured
    assert history.offset_for(wall(T0, PLUS8), T0) == -3600


def test_a_jittery_clock_keeps_one_spell_and_the_wrong_zone_hour_stays_known() -> None:
    history = ClockHistory()
    for minute in range(60):  # an hour stated +08:00
        at = T0 + timedelta(minutes=minute)
        history.record(wall(at, PLUS8), at)
    for i in range(150):  # then readings that jitter between 0 and 2.5 s
        at = T0 + timedelta(minutes=61 + i)
        history.record(wall(at, PLUS7) + timedelta(seconds=2.5 * (i % 2)), at)
    assert len(history.spells) == 2
    made = T0 + timedelta(minutes=30)
    assert history.offset_for(wall(made, PLUS8), T0 + timedelta(hours=4)) == -3600
