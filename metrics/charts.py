"""Small server-side SVG charts for the manager dashboard (no JavaScript, no chart library).

`line_chart` draws one or more series over shared x labels as an accessible
inline SVG: `role="img"` named by its `<title>` and `<desc>`, text labels on
both axes, a legend, and a `<title>` on every point (the browser's tooltip).
Colours come from the presentation attributes (allowed by the strict CSP) and
from the `.chart` rules of tierdesk.css.
"""
import math
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 28, 32, 40
MAX_X_LABELS = 8
COLOURS = ("#1d5fd1", "#17663a", "#9a3b00", "#6b4a00")
DASHES = ("none", "6 3", "2 3", "8 3 2 3")


@dataclass
class Series:
    name: str
    values: list  # numbers or None (a gap)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `value` (an axis maximum that reads well)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value * (1 - 1e-9):
            return float(factor * magnitude)
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def _num(value: float) -> str:
    return f"{value:.1f}"


def line_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    labels: list[str],
    series: list[Series],
    y_format=lambda v: f"{v:g}",
    y_label: str = "",
    point_format=None,
    integer: bool = False,
) -> SafeString:
    """An inline SVG line chart; `labels` name the x positions, `y_format` writes the axis values and
    `point_format` (default: `y_format`) the value in each point's tooltip; `integer` keeps the axis on whole
    numbers. The second and later series are dashed, so they differ by more than colour."""
    point_format = point_format or y_format
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for s in series for v in s.values if v is not None]
    # Four equal steps of a round size up to the highest value; counts step by whole numbers.
    step_size = nice_ceiling(max(values, default=0) / 4)
    if integer:
        step_size = max(1.0, float(math.ceil(step_size)))
    top = 4 * step_size
    count = len(labels)

    def x_at(i: int) -> float:
        return LEFT + (plot_w / 2 if count <= 1 else plot_w * i / (count - 1))

    def y_at(v: float) -> float:
        return TOP + plot_h - plot_h * (v / top)

    parts = [
        format_html(
            '<svg class="chart" id="{}" viewBox="0 0 {} {}" width="100%" role="img" aria-labelledby="{}-title {}-desc" '
            'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
            chart_id, WIDTH, HEIGHT, chart_id, chart_id,
        ),
        format_html('<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>', chart_id, title, chart_id, desc),
    ]
    # Horizontal grid lines with their values.
    for step in range(5):
        value = step_size * step
        y = y_at(value)
        parts.append(format_html(
            '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e8ecf2" stroke-width="1"/>'
            '<text class="axis" x="{}" y="{}" text-anchor="end" dominant-baseline="middle" fill="#566173" '
            'font-size="11">{}</text>',
            LEFT, _num(y), WIDTH - RIGHT, _num(y), LEFT - 6, _num(y), y_format(value),
        ))
    if y_label:
        parts.append(format_html(
            '<text class="axis" x="{}" y="{}" fill="#566173" font-size="11">{}</text>', 4, TOP - 14, y_label,
        ))
    # X labels: at most MAX_X_LABELS, evenly spread, always the first and the last.
    shown = max(1, min(count, MAX_X_LABELS))
    for i in sorted({round(k * (count - 1) / (shown - 1)) if shown > 1 else 0 for k in range(shown)} if count else ()):
        parts.append(format_html(
            '<text class="axis" x="{}" y="{}" text-anchor="middle" fill="#566173" font-size="11">{}</text>',
            _num(x_at(i)), HEIGHT - BOTTOM + 16, labels[i],
        ))
    parts.append(format_html(
        '<line class="baseline" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#566173" stroke-width="1"/>',
        LEFT, TOP + plot_h, WIDTH - RIGHT, TOP + plot_h,
    ))
    if not values:
        parts.append(format_html(
            '<text class="empty" x="{}" y="{}" text-anchor="middle" fill="#566173" font-size="13">{}</text>',
            LEFT + plot_w / 2, TOP + plot_h / 2, _("No data in this period"),
        ))
    # Legend, then one polyline per run of defined values and a titled dot per point.
    legend_x = LEFT
    for n, line in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        dash = DASHES[n % len(DASHES)]
        parts.append(format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3" stroke-dasharray="{}"/>'
            '<text class="legend" x="{}" y="{}" fill="#17202c" font-size="12" dominant-baseline="middle">{}</text>',
            legend_x, TOP - 18, legend_x + 18, TOP - 18, colour, dash, legend_x + 22, TOP - 18, line.name,
        ))
        legend_x += 34 + 7 * len(line.name)
        runs, run = [], []
        for i, value in enumerate(line.values):
            if value is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append((x_at(i), y_at(value)))
        if run:
            runs.append(run)
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{_num(x)},{_num(y)}" for x, y in run)
                parts.append(format_html(
                    '<polyline class="series series-{}" points="{}" fill="none" stroke="{}" stroke-width="2" '
                    'stroke-dasharray="{}" stroke-linejoin="round"/>', n, points, colour, dash,
                ))
        for i, value in enumerate(line.values):
            if value is None:
                continue
            parts.append(format_html(
                '<circle class="point series-{}" cx="{}" cy="{}" r="3" fill="{}"><title>{} — {}: {}</title></circle>',
                n, _num(x_at(i)), _num(y_at(value)), colour, labels[i], line.name, point_format(value),
            ))
    parts.append(mark_safe("</svg>"))  # nosec B308  # a constant tag
    # Joined, not escaped again: every part is format_html's output (values escaped) or the constant above.
    return mark_safe("".join(parts))  # noqa: S308 - parts escaped by format_html  # nosec B308, B703
