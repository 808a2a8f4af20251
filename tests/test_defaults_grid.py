"""benchmarks/defaults_grid.py: the rule that picks the shipped default weights."""

from __future__ import annotations

from benchmarks.defaults_grid import EXTRA_SETTINGS, choose, clears_bars
from wagtail_neural_feed.evaluation.tuning import parse_weights
from wagtail_neural_feed.feeds import FeedConfig


def run(**ndcg: float) -> dict:
    baselines = {"most popular": 0.01, "recent + popular": 0.05, "pure similarity": 0.30}
    return {
        name.replace("_", " "): {"ndcg@10": value} for name, value in {**baselines, **ndcg}.items()
    }


def test_the_most_robust_setting_that_clears_the_bars_is_chosen():
    runs = {
        # "sim=a" is best on news, "sim=b" on the demo, "sim=c" never best but never far.
        "news-time": run(**{"sim=a": 0.20, "sim=b": 0.06, "sim=c": 0.16, "sim=d": 0.19}),
        "demo-time": run(**{"sim=a": 0.20, "sim=b": 0.40, "sim=c": 0.38, "sim=d": 0.36}),
    }
    chosen, ranked = choose(runs)
    worst = dict(ranked)
    assert worst["sim=a"] == 0.5 and worst["sim=b"] == 0.3
    assert ranked[0][0] == "sim=d"  # worst ratio 0.9 ...
    assert not clears_bars(runs, "sim=a")  # below pure similarity on the demo
    assert chosen == "sim=d" and clears_bars(runs, "sim=d")
    runs["demo-time"]["pure similarity"]["ndcg@10"] = 0.37  # now "sim=d" falls below it
    chosen, ranked = choose(runs)
    assert ranked[0][0] == "sim=d" and chosen == "sim=c"  # the next most robust that clears
    runs["news-time"]["recent + popular"]["ndcg@10"] = 0.25  # nothing clears: the most robust
    assert choose(runs)[0] == "sim=d"


def test_extra_settings_are_valid_weights():
    config = FeedConfig(slug="default")
    assert {parse_weights(spec, config).freshness_half_life_days for spec in EXTRA_SETTINGS} == {
        2.0,
        7.0,
    }
