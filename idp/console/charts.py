"""Bar charts as inline SVG, drawn on the server: no JavaScript, no CDN, nothing for the CSP to allow.

Pure functions from numbers to markup. Every piece of text (titles, axis labels, e-Service names an
agency typed) goes through :func:`markupsafe.escape`. The charts are pictures of a table the page
prints next to them: each series has a colour and a pattern (so they can be told apart without
colour) and a legend, and the SVG carries a ``<title>`` and a ``<desc>`` for screen readers.
Colours are dark enough for 3:1 against white (WCAG 2.2 §1.4.11 non-text contrast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup
from markupsafe import escape

# Contrast against white: 8.5, 5.0, 5.1, 8.4, 7.2:1.
COLOURS = ("#1f4e8c", "#b35900", "#2e7d32", "#6a1b9a", "#37474f")
WIDTH = 640
FONT = 12
CHAR = 7  # rough width of one character at FONT px, for laying out labels


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Chart:
    """What one chart shows: the page draws the SVG and prints the table from the same numbers.

    :param categories: one label per bar or group (the table's row headers)
    :param axis_labels: shorter labels for the axis (e.g. ``05-01`` for a day); defaults to ``categories``
    """

    id: str
    title: str
    desc: str
    category_heading: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    axis_labels: tuple[str, ...] | None = None

    @property
    def empty(self) -> bool:
        return not self.categories or not any(v for s in self.series for v in s.values)

    def rows(self) -> list[tuple[str, tuple[float, ...]]]:
        """The table: each category with its value in every series."""
        return [(c, tuple(s.values[i] for s in self.series)) for i, c in enumerate(self.categories)]


def scale(top: float, *, intervals: int = 4) -> tuple[float, list[float]]:
    """A round axis maximum at or above ``top`` and its ticks (counts: whole-number steps)."""
    if top <= 0:
        return 1, [0, 1]
    raw = top / intervals
    magnitude = 10 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for m in (1, 2, 2.5, 5, 10):
        candidate = m * magnitude
        if candidate >= raw and (candidate >= 1 and float(candidate).is_integer()):
            step = candidate
            break
    step = max(step, 1)
    maximum = math.ceil(top / step - 1e-9) * step
    count = round(maximum / step)
    return maximum, [i * step for i in range(count + 1)]


def shown_labels(count: int, most: int) -> set[int]:
    """Which category labels fit: every ``k``-th one, the first included, when there are too many."""
    if count <= most:
        return set(range(count))
    every = math.ceil(count / max(most, 1))
    return set(range(0, count, every))


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def bars(chart: Chart, *, empty_text: str, stacked: bool = True, max_labels: int = 12, height: int = 240) -> Markup:
    """Vertical bars, one per category, the series stacked (or side by side: ``stacked=False``)."""
    if chart.empty:
        return _empty(chart, empty_text)
    labels = chart.axis_labels or chart.categories
    n = len(chart.categories)
    if stacked:
        top = max(sum(s.values[i] for s in chart.series) for i in range(n))
    else:
        top = max(v for s in chart.series for v in s.values)
    maximum, ticks = scale(top)
    legend, legend_height = _legend(chart, y=0)
    left, right, plot_top, axis = 44, 8, 8, 22
    plot_bottom = plot_top + height
    total = plot_bottom + axis + legend_height
    slot = (WIDTH - left - right) / n

    def y_of(value: float) -> float:
        return plot_bottom - value / maximum * height

    out = [_open(chart, total), _patterns(chart)]
    out.append('<g class="axis">')
    for tick in ticks:
        y = y_of(tick)
        out.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c9d0d8"/>'
                   f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="{FONT}">{number(tick)}</text>')
    show = shown_labels(n, max_labels)
    room = int((WIDTH - left - right) / len(show) / CHAR)  # characters one shown label has space for
    for i in sorted(show):
        x = left + slot * (i + 0.5)
        out.append(f'<text x="{x:.1f}" y="{plot_bottom + 16}" text-anchor="middle" '
                   f'font-size="{FONT}">{escape(_clip(labels[i], room))}</text>')
    out.append("</g>")
    out.append('<g class="bars">')
    gap = slot * 0.15
    for i, category in enumerate(chart.categories):
        x = left + slot * i + gap
        width = slot - 2 * gap
        base = 0.0
        for k, series in enumerate(chart.series):
            value = series.values[i]
            if not value:
                continue
            if stacked:
                y0, y1, bx, bw = y_of(base + value), y_of(base), x, width
                base += value
            else:
                bw = width / len(chart.series)
                y0, y1, bx = y_of(value), y_of(0), x + k * bw
            out.append(_rect(chart, k, bx, y0, bw, y1 - y0, f"{category}, {series.label}: {number(value)}"))
    out.append("</g>")
    out.append(f'<g class="legend" transform="translate(0,{plot_bottom + axis})">{legend}</g>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (every text in it went through escape)


def hbars(chart: Chart, *, empty_text: str, label_width: int = 200) -> Markup:
    """Horizontal bars: one row per category (long names), the series side by side, values printed."""
    if chart.empty:
        return _empty(chart, empty_text)
    k = len(chart.series)
    bar, gap = 16, 10
    row = k * bar + gap
    top = max(v for s in chart.series for v in s.values)
    maximum, ticks = scale(top)
    left, right, plot_top = label_width + 8, 48, 18
    plot_width = WIDTH - left - right
    plot_bottom = plot_top + row * len(chart.categories)
    legend, legend_height = _legend(chart, y=0)
    total = plot_bottom + 12 + legend_height

    def x_of(value: float) -> float:
        return left + value / maximum * plot_width

    out = [_open(chart, total), _patterns(chart), '<g class="axis">']
    for tick in ticks:
        x = x_of(tick)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{plot_top}" y2="{plot_bottom}" stroke="#c9d0d8"/>'
                   f'<text x="{x:.1f}" y="{plot_top - 5}" text-anchor="middle" '
                   f'font-size="{FONT}">{number(tick)}</text>')
    out.append('</g><g class="bars">')
    for i, category in enumerate(chart.categories):
        y = plot_top + row * i + gap / 2
        out.append(f'<text x="{label_width}" y="{y + row / 2:.1f}" text-anchor="end" font-size="{FONT}">'
                   f"<title>{escape(category)}</title>{escape(_clip(category, label_width // CHAR))}</text>")
        for j, series in enumerate(chart.series):
            value = series.values[i]
            by = y + j * bar
            if value:
                out.append(_rect(chart, j, left, by, x_of(value) - left, bar - 2,
                                 f"{category}, {series.label}: {number(value)}"))
            out.append(f'<text x="{x_of(value) + 4:.1f}" y="{by + bar - 5}" font-size="{FONT}">{number(value)}</text>')
    out.append("</g>")
    out.append(f'<g class="legend" transform="translate(0,{plot_bottom + 12})">{legend}</g></svg>')
    return Markup("".join(out))  # noqa: S704 (every text in it went through escape)


def _open(chart: Chart, height: float) -> str:
    cid = escape(chart.id)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" role="img" '
            f'aria-labelledby="{cid}-title" aria-describedby="{cid}-desc" viewBox="0 0 {WIDTH} {height:.0f}" '
            f'width="{WIDTH}" height="{height:.0f}" font-family="sans-serif">'
            f'<title id="{cid}-title">{escape(chart.title)}</title><desc id="{cid}-desc">{escape(chart.desc)}</desc>')


def _empty(chart: Chart, text: str) -> Markup:
    return Markup('<p class="chart-empty" id="{}">{}</p>').format(chart.id, text)


def _fill(chart: Chart, k: int) -> str:
    return f"url(#{escape(chart.id)}-p{k})"


def _patterns(chart: Chart) -> str:
    """Solid, stripes, dots, cross-hatch, lines: a second cue besides colour for each series."""
    marks = ("", '<path d="M0,6 L6,0" stroke="#fff" stroke-width="1.5"/>',
             '<circle cx="3" cy="3" r="1.2" fill="#fff"/>',
             '<path d="M0,3 H6 M3,0 V6" stroke="#fff" stroke-width="1"/>',
             '<path d="M0,0 L6,6" stroke="#fff" stroke-width="1.5"/>')
    out = ["<defs>"]
    for k in range(len(chart.series)):
        colour = COLOURS[k % len(COLOURS)]
        out.append(f'<pattern id="{escape(chart.id)}-p{k}" patternUnits="userSpaceOnUse" width="6" height="6">'
                   f'<rect width="6" height="6" fill="{colour}"/>{marks[k % len(marks)]}</pattern>')
    out.append("</defs>")
    return "".join(out)


def _rect(chart: Chart, k: int, x: float, y: float, width: float, height: float, tip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{max(height, 0):.1f}" '
            f'fill="{_fill(chart, k)}" stroke="#fff" stroke-width="0.5"><title>{escape(tip)}</title></rect>')


def _legend(chart: Chart, *, y: float) -> tuple[str, int]:
    """Swatch and name for each series, wrapped onto more lines when they do not fit."""
    out, x, line = [], 8.0, 0
    for k, series in enumerate(chart.series):
        width = 22 + CHAR * len(series.label) + 16
        if x + width > WIDTH and x > 8:
            x, line = 8.0, line + 1
        top = y + line * 20
        out.append(f'<rect x="{x:.0f}" y="{top:.0f}" width="14" height="14" fill="{_fill(chart, k)}"/>'
                   f'<text x="{x + 20:.0f}" y="{top + 12:.0f}" font-size="{FONT}">{escape(series.label)}</text>')
        x += width
    return "".join(out), (line + 1) * 20 + 4


def _clip(text: str, most: int) -> str:
    most = max(most, 4)
    return text if len(text) <= most else text[: most - 1] + "…"
