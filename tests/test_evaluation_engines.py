"""The fast engine ranks exactly what the SQL replay ranks: same lists, same metrics.

The fixture has two sections of two page types, view, like and dislike
interactions, repeat reads, popularity and freshness that both matter, and
feeds with a section and a page-type filter, MMR and a cap per section. The
fast engine checks every event against SQL (``check_every=1``: it stops with
an error on the first list that differs beyond float ties), and its metrics
must equal a separate SQL-only replay's.
"""

from __future__ import annotations

from dataclasses import make_dataclass
from datetime import timedelta

import numpy as np
import pytest

from tests.bulk import bulk_embeddings, clustered_vectors
from tests.factories import ArticlePageFactory, SectionPageFactory
from tests.news_world import build_news_world
from wagtail_neural_feed.evaluation import engine as engine_module
from wagtail_neural_feed.evaluation.engine import supports
from wagtail_neural_feed.evaluation.parity import lists_agree
from wagtail_neural_feed.evaluation.rankers import Ranker, baselines, co_read_ranker
from wagtail_neural_feed.evaluation.replay import Replay
from wagtail_neural_feed.exceptions import EvaluationError
from wagtail_neural_feed.feeds import FeedConfig, get_feed_config
from wagtail_neural_feed.models import Interaction
from wagtail_neural_feed.signals import disable_neural_feed_updates


@pytest.fixture
def world(home):
    """News (NewsPage, the news world) and sport (ArticlePage) sections, mixed readers."""
    news = SectionPageFactory(parent=home, title="News", slug="news")
    sport = SectionPageFactory(parent=home, title="Sport", slug="sport")
    built = build_news_world(news, pages=70, readers=14, reads_per_reader=7, seed=11)
    start = built.start
    sport_ids = []
    with disable_neural_feed_updates():
        for i in range(24):
            when = start + timedelta(days=6 + i)
            page = ArticlePageFactory.build(
                title=f"Match {i}", live=True, first_published_at=when, last_published_at=when
            )
            sport.add_child(instance=page)
            sport_ids.append(page.pk)
    bulk_embeddings(sport_ids, clustered_vectors(24, clusters=3, seed=12)[0])
    rng = np.random.default_rng(13)
    rows = []
    for n, reader_id in enumerate(built.reader_ids):
        for _ in range(4):
            page = int(rng.choice(sport_ids[:20]))
            when = start + timedelta(days=float(rng.uniform(8, 30)))
            rows.append(
                Interaction(
                    reader_id=reader_id, page_id=page, kind="view", weight=1.0, created_at=when
                )
            )
        # A like on a page read before, a dislike, a repeat view.
        read = list(
            Interaction.objects.filter(reader_id=reader_id).values_list("page_id", "created_at")
        )
        page, when = read[n % len(read)]
        rows.append(
            Interaction(
                reader_id=reader_id,
                page_id=page,
                kind="like",
                weight=3.0,
                created_at=when + timedelta(hours=2),
            )
        )
        rows.append(
            Interaction(
                reader_id=reader_id,
                page_id=page,
                kind="view",
                weight=1.0,
                created_at=when + timedelta(hours=5),
            )
        )
        disliked = int(rng.choice(built.page_ids))
        rows.append(
            Interaction(
                reader_id=reader_id,
                page_id=disliked,
                kind="dislike",
                weight=-3.0,
                created_at=start + timedelta(days=float(rng.uniform(10, 29))),
            )
        )
    Interaction.objects.bulk_create(rows)
    return news, sport


FEEDS = {
    "default": lambda news, sport: get_feed_config("default"),
    "news, page type, mmr": lambda news, sport: FeedConfig(
        slug="news",
        page_types=("testapp.NewsPage",),
        root_page_id=news.pk,
        freshness_weight=0.5,
        popularity_weight=0.5,
        freshness_half_life_days=3.0,
        diversity="mmr",
        mmr_lambda=0.6,
    ),
    "section cap, popularity": lambda news, sport: FeedConfig(
        slug="capped",
        freshness_weight=1.0,
        popularity_weight=1.0,
        popularity_half_life_days=2.0,
        freshness_half_life_days=1.0,
        diversity="section_cap",
        section_cap=2,
    ),
}


@pytest.mark.parametrize(
    ("feed", "split", "context"),
    [
        ("default", "leave-last-out", "none"),
        ("news, page type, mmr", "time", "none"),
        ("section cap, popularity", "leave-last-out", "last"),
        ("default", "time", "last"),
    ],
)
def test_fast_engine_ranks_what_sql_ranks(world, feed, split, context):
    config = FEEDS[feed](*world)
    rankers = [Ranker("feed", config), *baselines(config), co_read_ranker(config)]
    options = {"split": split, "context": context, "rankers": rankers}
    fast = Replay(config, engine="fast", check_every=1, **options).run()
    sql = Replay(config, engine="sql", **options).run()
    assert fast.summary == sql.summary and fast.summary.held_out > 10
    ours = fast.report.as_dict(fast.catalogue_size)
    theirs = sql.report.as_dict(sql.catalogue_size)
    assert set(ours) == set(theirs)
    for name in ours:
        for metric, value in theirs[name].items():
            assert ours[name][metric] == pytest.approx(value, abs=1e-9), (name, metric)


def test_disagreement_stops_the_run_naming_the_event(world, monkeypatch):
    """A wrong fast list (here: the feed's list reversed) fails loudly with both lists."""
    real_rank = engine_module.FastEngine.rank

    def wrong(self, moments, similarities):
        batch = real_rank(self, moments, similarities)
        for lists in batch:
            first = lists[0]
            lists[0] = engine_module.Ranked(first.items[::-1], first.scores[::-1])
        return batch

    monkeypatch.setattr(engine_module.FastEngine, "rank", wrong)
    config = get_feed_config("default")
    with pytest.raises(EvaluationError, match=r"disagree on held-out event \d+ .*ranker 'feed'"):
        Replay(config, engine="fast", check_every=1).run()


def test_lists_agree_only_up_to_ties():
    assert lists_agree([(1, 0.5), (2, 0.4)], [(1, 0.5), (2, 0.4 + 1e-9)])
    assert lists_agree([(1, 0.5), (2, 0.5)], [(2, 0.5), (1, 0.5 + 1e-9)])  # a tie swapped
    assert not lists_agree([(1, 0.5), (2, 0.4)], [(1, 0.5), (3, 0.3)])
    assert not lists_agree([(1, 0.5)], [(1, 0.5), (2, 0.4)])


def test_a_feed_with_another_score_term_is_ranked_by_sql():
    """A co-read weight (the item-to-item term) is not in the fast engine: SQL ranks."""
    with_co_read = make_dataclass(
        "WithCoRead", [("co_read_weight", float, 0.5)], bases=(FeedConfig,), frozen=True
    )
    assert supports(FeedConfig(slug="plain"))
    assert not supports(with_co_read(slug="co"))
    assert supports(with_co_read(slug="off", co_read_weight=0.0))
    assert Replay(with_co_read(slug="co")).engine == "sql"
    assert Replay(FeedConfig(slug="plain")).engine == "fast"
