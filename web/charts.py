"""Charts drawn on the server as inline SVG (pygal, no script, no CDN), with the values
printed on the bars so they read without colour."""

from __future__ import annotations

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
    svg: str = chart.render(is_unicode=True)
    return svg
