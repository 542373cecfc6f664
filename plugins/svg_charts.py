"""Small inline SVG charts for the HTML leaderboard: lines over a numeric or log axis and
grouped bars, accuracy on the y axis (0 to 1). Plain strings, no dependencies, nothing
fetched when the page is viewed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
WIDTH, HEIGHT = 640, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 190, 34, 52


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]  # (x, accuracy)


def _frame(title: str, x_label: str, chart_id: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="20" class="chart-title">{escape(title)}</text>',
    ]
    for tick in range(0, 11, 2):
        y = TOP + plot_h * (1 - tick / 10)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick * 10}%</text>')
    parts.append(f'<text x="14" y="{TOP + plot_h / 2:.1f}" class="axis" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">accuracy</text>')
    parts.append(f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.1f}" y="{HEIGHT - 10}" class="axis" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    return parts


def _legend(names: list[str]) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        y = TOP + 8 + i * 18
        x = WIDTH - RIGHT + 14
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{color}"/>')
        short = name if len(name) <= 26 else name[:25] + "…"
        parts.append(f'<text x="{x + 18}" y="{y + 1}" class="legend"><title>{escape(name)}</title>{escape(short)}</text>')
    return parts


def _y(value: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - max(0.0, min(1.0, value)))


def line_chart(title: str, x_label: str, series: list[Series], chart_id: str, log_x: bool = False,
               x_ticks: list[tuple[float, str]] | None = None) -> str:
    """Lines with points; ``x_ticks`` labels positions (else the x values themselves)."""
    parts = _frame(title, x_label, chart_id)
    xs = sorted({x for s in series for x, _ in s.points})
    if not xs:
        parts.append(f'<text x="{LEFT + 20}" y="{TOP + 40}" class="empty">no data</text></svg>')
        return "".join(parts)
    tx = (lambda v: math.log10(v)) if log_x else (lambda v: v)
    lo, hi = tx(xs[0]), tx(xs[-1])
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    span = WIDTH - LEFT - RIGHT - 30

    def x_pos(v: float) -> float:
        return LEFT + 15 + span * (tx(v) - lo) / (hi - lo)

    for value, label in x_ticks or [(x, f"{x:g}") for x in xs]:
        parts.append(f'<text x="{x_pos(value):.1f}" y="{HEIGHT - BOTTOM + 16}" class="tick" '
                     f'text-anchor="middle">{escape(label)}</text>')
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        points = sorted(s.points)
        coords = " ".join(f"{x_pos(x):.1f},{_y(y):.1f}" for x, y in points)
        parts.append(f'<polyline class="series" data-series="{escape(s.name)}" fill="none" stroke="{color}" '
                     f'stroke-width="2" points="{coords}"/>')
        for x, y in points:
            parts.append(f'<circle cx="{x_pos(x):.1f}" cy="{_y(y):.1f}" r="3.5" fill="{color}">'
                         f'<title>{escape(s.name)}: {y:.1%}</title></circle>')
    parts += _legend([s.name for s in series])
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, groups: list[str], series: list[Series], chart_id: str) -> str:
    """Grouped bars: one group per label in ``groups``; a series' point ``(i, value)`` is its
    bar in group ``i``."""
    parts = _frame(title, "task", chart_id)
    if not groups or not series:
        parts.append(f'<text x="{LEFT + 20}" y="{TOP + 40}" class="empty">no data</text></svg>')
        return "".join(parts)
    group_w = (WIDTH - LEFT - RIGHT) / len(groups)
    bar_w = max(2.0, (group_w * 0.8) / len(series))
    for g, name in enumerate(groups):
        cx = LEFT + group_w * (g + 0.5)
        short = name if len(name) <= 18 else name[:17] + "…"
        parts.append(f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16}" class="tick" text-anchor="middle">'
                     f'<title>{escape(name)}</title>{escape(short)}</text>')
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        for slot, value in s.points:
            x = LEFT + group_w * slot + group_w * 0.1 + bar_w * i
            y = _y(value)
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                         f'height="{_y(0) - y:.1f}" fill="{color}"><title>{escape(s.name)} · '
                         f'{escape(groups[int(slot)])}: {value:.1%}</title></rect>')
    parts += _legend([s.name for s in series])
    parts.append("</svg>")
    return "".join(parts)
