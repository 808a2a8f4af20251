"""A small server-rendered line chart (SVG coordinates computed here, drawn by a template).

No chart library and nothing from a CDN: the dashboard must work offline and
inside a strict Content-Security-Policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

#: Colours with enough contrast on a white and on Wagtail's dark background.
PALETTE = ("#2e7d9a", "#c05621", "#6b46c1", "#2f855a", "#b83280", "#718096", "#975a16")


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: str
    total: int


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    bottom: int
    series: tuple[Series, ...]
    y_ticks: tuple[tuple[float, int], ...]
    x_labels: tuple[tuple[float, str], ...]

    @property
    def empty(self) -> bool:
        return not any(s.total for s in self.series)


def nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def line_chart(
    days: list[date], series: dict[str, list[int]], *, width: int = 720, height: int = 240
) -> LineChart:
    """Lay out one polyline per series over ``days``; y from 0 to a round maximum."""
    left, right, top, bottom = 44, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max((max(v) for v in series.values() if v), default=0)
    tick = nice_max(max(math.ceil(highest / 4), 1))  # four whole, round steps
    top_value = 4 * tick
    step_x = plot_w / max(len(days) - 1, 1)

    def y(value: float) -> float:
        return round(top + plot_h - plot_h * value / top_value, 1)

    laid_out = tuple(
        Series(
            name=name,
            colour=PALETTE[index % len(PALETTE)],
            points=" ".join(f"{round(left + i * step_x, 1)},{y(v)}" for i, v in enumerate(values)),
            total=sum(values),
        )
        for index, (name, values) in enumerate(series.items())
    )
    ticks = tuple((y(tick * step), tick * step) for step in range(5))
    every = max(len(days) // 6, 1)
    labels = tuple(
        (round(left + i * step_x, 1), day.strftime("%d %b"))
        for i, day in enumerate(days)
        if i % every == 0
    )
    return LineChart(width, height, left, height - bottom, laid_out, ticks, labels)
