"""Charts drawn on the server as inline SVG (pygal, no script, no CDN), with the values
printed on the bars so they read without colour."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import pygal
from pygal.style import Style

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    colors=("#8b1a1a",),
    font_family="Noto Sans, DejaVu Sans, Arial, sans-serif",
    value_font_size=14,
    label_font_size=13,
    major_label_font_size=13,
    title_font_size=16,
)


_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _render(chart: Any) -> str:
    """The SVG without pygal's configuration script (an <img> never runs it; nothing to
    ship that the CSP would only refuse)."""
    svg: str = chart.render(is_unicode=True)
    return _SCRIPT.sub("", svg)


# Drawn at about the width they are shown at, so their text stays near its real size:
# 800 px for a desktop column, 360 px for a phone (the ``narrow`` variant).
WIDE, NARROW = 800, 360


def unit_rates(
    units: list[tuple[str, float]], title: str | None = None, narrow: bool = False, limit: int = 15
) -> str:
    """(name, violation rate per 100 working days) of the worst ``limit`` units, as SVG."""
    shown = units[:limit]
    chart = pygal.HorizontalBar(
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        print_values=True,
        print_zeroes=False,
        style=STYLE,
        width=NARROW if narrow else WIDE,
        height=max(160, (36 if narrow else 40) * len(shown) + 80),
        title=title,
        truncate_label=-1,
        # "0" is what pygal leaves unprinted: a unit without violations has no bar to label.
        value_formatter=lambda v: _number(v, 1) if v else "0",
    )
    chart.x_labels = [_short(name, 18) if narrow else name for name, _ in reversed(shown)]
    chart.y_labels = _axis([rate for _, rate in shown], 4 if narrow else 6, headroom=False)
    chart.add("Tỷ lệ vi phạm", [rate for _, rate in reversed(shown)])
    return _render(chart)


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def _short(label: str, size: int) -> str:
    """A unit's name cut to ``size`` characters with an ellipsis (the table has it whole)."""
    return label if len(label) <= size else label[: size - 1].rstrip() + "…"


def _axis(
    values: Sequence[float | None], steps: int = 5, headroom: bool = True
) -> list[dict[str, Any]]:
    """Round ticks from 0 up to the largest value (0, 25, 50… or 0, 1, 2…), whole numbers
    with Vietnamese separators, so no value sits above the last line and no label repeats;
    ``headroom`` keeps a little room above the top value for the number printed over it."""
    top = max([v for v in values if v is not None] + [1.0])
    raw = top / steps
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    factors = (1, 2, 2.5, 5, 10) if magnitude >= 10 else (1, 2, 5, 10)
    step = next(m * magnitude for m in factors if m * magnitude >= raw)
    count = math.ceil(top / step)
    if headroom and count * step - top < step * 0.15:
        count += 1
    return [{"value": i * step, "label": _number(i * step, 0)} for i in range(count + 1)]


def trend(
    points: list[tuple[str, float | None]], title: str | None = None, narrow: bool = False
) -> str:
    """(month label "mm/yyyy", rate per 100 working days or None for a month without data)
    of the last 12 months, as an SVG line with each value printed above its dot."""
    chart = pygal.Line(
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        print_values=True,
        print_zeroes=False,
        print_values_position="top",
        style=STYLE,
        width=NARROW if narrow else WIDE,
        height=280 if narrow else 340,
        x_label_rotation=60 if narrow else 0,
        title=title,
        dots_size=4,
        margin_right=52,  # the last month's value is printed to the right of its dot
        value_formatter=lambda v: _number(v, 1),
    )
    chart.x_labels = [label[:3] + label[-2:] if len(label) == 7 else label for label, _ in points]
    chart.y_labels = _axis([value for _, value in points], 4 if narrow else 5)
    chart.add("Tỷ lệ vi phạm", [value for _, value in points])
    return _render(chart)


def counts(
    points: list[tuple[str, float | None]], title: str | None = None, narrow: bool = False
) -> str:
    """(label, count) as vertical bars with the count printed on each (late arrivals by
    weekday or by minutes late); ``narrow`` draws it for a phone's width."""
    values = [value or 0 for _, value in points]
    chart = pygal.Bar(
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        print_values=True,
        print_zeroes=False,
        style=STYLE,
        width=NARROW if narrow else WIDE,
        height=280 if narrow else 320,
        x_label_rotation=40 if narrow and len(points) > 4 else 0,
        title=title,
        value_formatter=lambda v: _number(v, 0),
    )
    chart.x_labels = [label for label, _ in points]
    chart.y_labels = _axis(values, 4 if narrow else 5)
    chart.add("Số lượt đi muộn", values)
    return _render(chart)
