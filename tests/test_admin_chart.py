"""The dashboard's server-rendered chart: round axes, one line per kind, an empty state."""

from datetime import date, timedelta

from wagtail_neural_feed.admin.charts import line_chart, nice_max

DAYS = [date(2026, 1, 1) + timedelta(days=n) for n in range(30)]


def test_axis_has_four_whole_round_steps():
    assert [value for _, value in line_chart(DAYS, {"view": [0] * 29 + [2]}).y_ticks] == [
        0, 1, 2, 3, 4
    ]  # fmt: skip
    assert [value for _, value in line_chart(DAYS, {"view": [37] + [0] * 29}).y_ticks] == [
        0, 10, 20, 30, 40
    ]  # fmt: skip
    assert [nice_max(n) for n in (1, 3, 7, 11, 260)] == [1, 5, 10, 20, 500]


def test_one_polyline_per_kind_within_the_plot():
    chart = line_chart(DAYS, {"like": [1] * 30, "view": list(range(30))})
    assert [s.name for s in chart.series] == ["like", "view"]
    assert [s.total for s in chart.series] == [30, sum(range(30))]
    for series in chart.series:
        points = [tuple(map(float, p.split(","))) for p in series.points.split()]
        assert len(points) == 30
        assert all(chart.left <= x <= chart.width and 0 <= y <= chart.bottom for x, y in points)
    assert not chart.empty and line_chart(DAYS, {}).empty
