"""Charts drawn on the server as inline SVG (pygal, no script, no CDN), with the values
printed on the bars so they read without colour."""

from __future__ import annotations

import re
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
    title_font_size=16,
)


_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _render(chart: Any) -> str:
    """The SVG without pygal's configuration script (an <img> never runs it; nothing to
    ship that the CSP would only refuse)."""
    svg: str = chart.render(is_unicode=True)
    return _SCRIPT.sub("", svg)


def unit_rates(units: list[tuple[str, float]], title: str, limit: int = 15) -> str:
    """(name, violation rate per 100 working days) of the worst ``limit`` units, as SVG."""
    shown = units[:limit]
    chart = pygal.HorizontalBar(
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        print_values=True,
        style=STYLE,
        width=800,
        height=max(160, 40 * len(shown) + 80),
        title=title,
        value_formatter=lambda v: f"{v:.1f}".replace(".", ","),
    )
    chart.x_labels = [name for name, _ in reversed(shown)]
    chart.add("Tỷ lệ vi phạm", [rate for _, rate in reversed(shown)])
    return _render(chart)


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def trend(points: list[tuple[str, float]], title: str) -> str:
    """(month label, rate per 100 working days) of the last 12 months, as an SVG line with
    each value printed beside its dot."""
    chart = pygal.Line(
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        print_values=True,
        style=STYLE,
        width=800,
        height=360,
        title=title,
        x_label_rotation=0,
        dots_size=4,
        min_scale=4,
        value_formatter=lambda v: _number(v, 1),
    )
    chart.x_labels = [label for label, _ in points]
    chart.add("Tỷ lệ vi phạm", [value for _, value in points])
    return _render(chart)


def counts(points: list[tuple[str, float]], title: str) -> str:
    """(label, count) as vertical bars with the count printed on each (late arrivals by
    weekday or by minutes late)."""
    chart = pygal.Bar(
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        print_values=True,
        style=STYLE,
        width=800,
        height=340,
        title=title,
        value_formatter=lambda v: _number(v, 0),
    )
    chart.x_labels = [label for label, _ in points]
    chart.add("Số lượt đi muộn", [value for _, value in points])
    return _render(chart)
