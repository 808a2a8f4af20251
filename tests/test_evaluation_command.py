"""neural_feed_evaluate: the table and JSON, and --tune on a constructed history."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.factories import SectionPageFactory
from tests.news_world import build_news_world
from wagtail_neural_feed.evaluation.records import headline
from wagtail_neural_feed.evaluation.tuning import (
    feed_class_source,
    parse_weights,
    trial_configs,
    tune,
    weights_label,
)
from wagtail_neural_feed.feeds import FeedConfig, get_feed_config
from wagtail_neural_feed.models import EvaluationRun, Interaction

NAMED_BASELINES = {"most recent", "most popular", "pure similarity", "recent + popular"}


@pytest.fixture
def news_section(home):
    return SectionPageFactory(parent=home, title="News", slug="news")


def test_evaluate_prints_a_table_and_writes_json(news_section, tmp_path):
    build_news_world(news_section, pages=60, readers=10, reads_per_reader=5, seed=2)
    out, path = StringIO(), tmp_path / "evaluation.json"
    call_command("neural_feed_evaluate", "--k", "5", "--json", str(path), stdout=out)
    text = out.getvalue()
    for name in ("feed", "random", "most recent", "most popular", "pure similarity"):
        assert name in text
    assert "hit_rate@5" in text and "held-out events/s" in text
    data = json.loads(path.read_text())
    assert data["held_out"] == 10 and data["k"] == 5
    assert set(data["rankers"]["feed"]) >= {"hit_rate@5", "ndcg@5", "mrr@5", "coverage"}
    assert data["rankers"]["feed"]["events"] == 10


def test_evaluate_rejects_bad_arguments(news_section):
    with pytest.raises(CommandError, match="--apply needs --tune"):
        call_command("neural_feed_evaluate", "--apply")
    with pytest.raises(CommandError, match="not a date"):
        call_command("neural_feed_evaluate", "--since", "yesterday")
    with pytest.raises(CommandError, match="--workers must be 1 or more"):
        call_command("neural_feed_evaluate", "--workers", "0")


def test_tune_refuses_below_the_minimum(news_section):
    build_news_world(news_section, pages=30, readers=4, reads_per_reader=4)
    with pytest.raises(CommandError, match="at least 400 needed"):
        call_command("neural_feed_evaluate", "--tune", stdout=StringIO())


@override_settings(
    WAGTAIL_NEURAL_FEED={
        "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
        "DISPATCH": "inline",
        "EXACT_BELOW_PAGES": 0,
        "TUNE_MIN_EVENTS": 10,
    }
)
def test_tune_recovers_freshness_when_readers_read_the_newest_page(news_section):
    build_news_world(
        news_section, pages=80, readers=16, reads_per_reader=6, newest_only=True, seed=4
    )
    current = get_feed_config("default")
    result = tune(current, trials=None, split="time")
    assert result.validation_events >= 5 and result.test_events >= 5
    ratio = result.best.freshness_weight / result.best.similarity_weight
    assert ratio > current.freshness_weight / current.similarity_weight
    assert result.test[1] > result.test[0]  # better on events that played no part
    assert result.gain == pytest.approx(result.test[1] - result.test[0])
    assert Interaction.objects.count() > 0  # the replay rolled back


def test_tune_command_prints_the_feed_to_paste(news_section):
    build_news_world(news_section, pages=60, readers=14, reads_per_reader=5, newest_only=True)
    out = StringIO()
    with override_settings(
        WAGTAIL_NEURAL_FEED={
            "DISPATCH": "inline",
            "EXACT_BELOW_PAGES": 0,
            "TUNE_MIN_EVENTS": 8,
            "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
        }
    ):
        call_command(
            "neural_feed_evaluate",
            "--tune",
            "--apply",
            "--split",
            "time",
            "--trials",
            "12",
            stdout=out,
        )
    text = out.getvalue()
    current = get_feed_config("default").freshness_weight
    assert f"freshness_weight: {current} ->" in text and "gain" in text
    assert "class DefaultFeed(Feed):" in text or "already the best" in text
    # The tuned setting against the best fixed blend, on the same test events.
    assert "the best fixed blend" in text and "test events the tuned setting" in text


def test_trial_grid_and_feed_source(monkeypatch):
    from wagtail_neural_feed import feeds
    from wagtail_neural_feed.feeds import reset_feed_registry

    # The pasted class registers itself: keep it out of later tests' registry.
    monkeypatch.setattr(feeds, "_registry", dict(feeds._registry))
    config = FeedConfig(slug="news", freshness_weight=0.2, popularity_weight=0.1)
    grid = trial_configs(config, trials=None)
    assert len(grid) == 8 * 5 * 4 - 1  # the current setting (on the grid) is not a trial
    off_grid = FeedConfig(slug="news", freshness_half_life_days=5.0)
    assert len(trial_configs(off_grid, trials=None)) == 8 * 5 * 4
    assert len(trial_configs(config, trials=5, seed=1)) == 5
    assert trial_configs(config, trials=5, seed=1) == trial_configs(config, trials=5, seed=1)
    with_context = trial_configs(config, trials=None, with_context=True)
    assert {c.context_weight for c in with_context} == {0.0, 0.3, 0.6}
    source = feed_class_source(grid[0])
    namespace: dict = {}
    exec(source, namespace)  # it must be valid Python to paste
    resolved = namespace["NewsFeed"].resolve()
    assert resolved.slug == "news"
    assert resolved.freshness_weight == grid[0].freshness_weight
    monkeypatch.undo()
    reset_feed_registry()


def test_evaluate_with_co_read(news_section):
    build_news_world(news_section, pages=40, readers=8, reads_per_reader=4, seed=6)
    out = StringIO()
    call_command("neural_feed_evaluate", "--co-read", stdout=out)
    assert "co-read" in out.getvalue()


def test_weights_are_parsed_and_named():
    config = FeedConfig(slug="news")
    setting = parse_weights("sim=1, fresh=2,half_life=0.5,pop=0.3", config)
    assert (setting.freshness_weight, setting.freshness_half_life_days) == (2.0, 0.5)
    assert setting.popularity_weight == 0.3 and setting.slug == "news"
    assert weights_label(setting) == "sim=1,fresh=2,half_life=0.5,pop=0.3"
    assert parse_weights(weights_label(setting), config) == setting  # round trip
    assert parse_weights("pop=2", config).freshness_weight == config.freshness_weight
    labelled = weights_label(parse_weights("co_read=0.3,context=0.6", config), context=True)
    assert labelled.endswith(",context=0.6,co_read=0.3")
    for bad, message in (("fresh", "key=value"), ("speed=1", "key=value"), ("pop=x", "not a")):
        with pytest.raises(ValueError, match=message):
            parse_weights(bad, config)


def test_evaluate_given_weights_and_the_grid(news_section, tmp_path):
    build_news_world(news_section, pages=40, readers=8, reads_per_reader=4, seed=6)
    path = tmp_path / "grid.json"
    call_command(
        "neural_feed_evaluate",
        "--weights",
        "sim=1,fresh=8,half_life=0.5,pop=0;sim=0,fresh=1,half_life=1,pop=0",
        "--weights",
        "sim=1,fresh=2,half_life=2,pop=0.5",
        "--json",
        str(path),
        "--no-save",
        stdout=StringIO(),
    )
    rankers = json.loads(path.read_text())["rankers"]
    assert {"sim=1,fresh=8,half_life=0.5,pop=0", "sim=1,fresh=2,half_life=2,pop=0.5"} <= set(
        rankers
    )
    # A setting is ranked like the baseline it equals: freshness alone is "most recent".
    assert rankers["sim=0,fresh=1,half_life=1,pop=0"]["ndcg@10"] == pytest.approx(
        rankers["most recent"]["ndcg@10"]
    )
    call_command("neural_feed_evaluate", "--grid", "--json", str(path), stdout=StringIO())
    # Stored for the dashboard, the feed is still judged against the baselines only.
    assert headline(EvaluationRun.objects.get())["baseline"] in NAMED_BASELINES
    rankers = json.loads(path.read_text())["rankers"]
    current = weights_label(get_feed_config("default"))
    grid = [name for name in rankers if name.startswith("sim=")]
    assert current in grid and len(grid) == len(set(grid)) >= 8 * 5 * 4
    assert rankers[current]["ndcg@10"] == rankers["feed"]["ndcg@10"]
    with pytest.raises(CommandError, match="--weights: "):
        call_command("neural_feed_evaluate", "--weights", "fresh=a", stdout=StringIO())
    with pytest.raises(CommandError, match="freshness_weight must be"):
        call_command("neural_feed_evaluate", "--weights", "fresh=-1", stdout=StringIO())
    with pytest.raises(CommandError, match="--tune searches its own"):
        call_command("neural_feed_evaluate", "--tune", "--grid", stdout=StringIO())
