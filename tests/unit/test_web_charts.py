"""The summary's charts: round axis ticks that reach past the largest value, months without
data left blank, and a phone-width variant drawn at the width it is shown at."""

from __future__ import annotations

import re

from web.charts import _axis, counts, trend, unit_rates


def labels(values: list[float | None], steps: int = 5, headroom: bool = True) -> list[str]:
    return [str(tick["label"]) for tick in _axis(values, steps, headroom)]


def test_the_axis_uses_round_steps_past_the_top_value() -> None:
    assert labels([83.3]) == ["0", "20", "40", "60", "80", "100"]
    assert labels([2, 0]) == ["0", "1", "2", "3"]  # counts: whole steps, room for the number
    assert labels([0]) == ["0", "1", "2"]  # nothing yet: still an axis, no repeated label
    assert labels([100, 50], 4, headroom=False) == ["0", "25", "50", "75", "100"]
    assert labels([1234]) == ["0", "250", "500", "750", "1.000", "1.250", "1.500"]
    assert labels([None, 12.5, None]) == ["0", "5", "10", "15"]


def test_the_charts_have_no_script_and_a_narrow_variant() -> None:
    points: list[tuple[str, float | None]] = [("10/2026", None), ("11/2026", 83.3)]
    wide, narrow = trend(points), trend(points, narrow=True)
    for svg in (wide, narrow):
        assert "<script" not in svg and "83,3" in svg
    assert re.search(r'<svg[^>]*viewBox="0 0 800 ', wide)
    assert re.search(r'<svg[^>]*viewBox="0 0 360 ', narrow)
    bars = counts([("Thứ Hai", 2), ("Thứ Ba", 0)], narrow=True)
    assert "Thứ Hai" in bars and "<script" not in bars
    rates = unit_rates([("Trung tâm Phục vụ hành chính công tỉnh", 12.5)], narrow=True)
    assert "Trung tâm Phục vụ…" in rates  # a long name is cut on a phone; the table has it
    spotless = unit_rates([("Văn phòng Sở", 0.0), ("Phòng Công chức", 50.0)])
    assert ">50,0<" in spotless and ">0,0<" not in spotless  # no number over an empty bar
