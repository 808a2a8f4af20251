"""The fast engine over several worker processes gives one process's numbers, exactly.

The world is the engines test's (two sections, likes, dislikes, repeat reads)
with stored impressions spread over the held-out period. Batches of 4 events
make three workers split the held-out events into three chunks; every sum of
the report (and of the impression scores) must be equal to the last digit,
with the SQL check running in the parent while the workers rank.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import numpy as np
import pytest

from tests.test_evaluation_engines import FEEDS, world  # noqa: F401 (a fixture)
from wagtail_neural_feed.evaluation import engine as engine_module
from wagtail_neural_feed.evaluation import fast as fast_module
from wagtail_neural_feed.evaluation.rankers import Ranker, baselines, co_read_ranker
from wagtail_neural_feed.evaluation.replay import Replay
from wagtail_neural_feed.evaluation.workers import chunk_bounds
from wagtail_neural_feed.exceptions import EvaluationError
from wagtail_neural_feed.models import Impression, Interaction, PageEmbedding


@pytest.fixture
def impressions(world):  # noqa: F811 (the fixture above)
    """A shown list of five pages, one clicked, every few hours of the last ten days."""
    rng = np.random.default_rng(5)
    pages = list(PageEmbedding.objects.values_list("page_id", flat=True))
    latest = Interaction.objects.order_by("-created_at").first()
    readers = list(Interaction.objects.values_list("reader_id", flat=True).distinct())
    for n in range(40):
        shown = [int(page) for page in rng.choice(pages, 5, replace=False)]
        Impression.objects.create(
            list_id=f"list-{n}",
            reader_id=readers[n % len(readers)],
            feed="default",
            page_ids=shown,
            shown_at=latest.created_at - timedelta(hours=6 * n),
            clicked_page_ids=[shown[n % 5]],
        )


@pytest.mark.parametrize(
    ("feed", "split", "context"),
    [("default", "time", "last"), ("news, page type, mmr", "leave-last-out", "none")],
)
def test_workers_give_the_same_metrics_as_one_process(
    world,  # noqa: F811
    impressions,
    monkeypatch,
    feed,
    split,
    context,
):
    monkeypatch.setattr(fast_module, "BATCH", 4)
    config = FEEDS[feed](*world)
    rankers = [Ranker("feed", config), *baselines(config), co_read_ranker(config)]
    options = {"split": split, "context": context, "rankers": rankers}
    one = Replay(config, engine="fast", check_every=0, workers=1, **options).run()
    three = Replay(config, engine="fast", check_every=3, workers=3, **options).run()
    assert len(chunk_bounds(one.summary.held_out, 3, 4)) == 3
    assert three.summary == one.summary
    assert three.report.totals == one.report.totals  # every float sum, bit for bit
    assert three.report.impressions == one.report.impressions
    if split == "time":
        assert one.report.impression_lists > 5


def test_a_worker_that_queries_the_database_stops_the_run(world, monkeypatch):  # noqa: F811
    """The parent's connection is not the workers' to use: a query raises, loudly."""
    from django.db import connection

    real_moment = engine_module.FastEngine.moment

    def querying(self, *args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return real_moment(self, *args, **kwargs)

    monkeypatch.setattr(fast_module, "BATCH", 4)
    monkeypatch.setattr(engine_module.FastEngine, "moment", querying)
    config = FEEDS["default"](*world)
    with pytest.raises(EvaluationError, match="may not query the database"):
        Replay(config, split="time", check_every=0, workers=2).run()
    with connection.cursor() as cursor:  # the parent's connection still works
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_chunks_are_contiguous_and_start_on_a_batch():
    assert chunk_bounds(1000, 2, 64) == [(0, 512), (512, 1000)]
    assert chunk_bounds(100, 8, 64) == [(0, 64), (64, 100)]
    assert chunk_bounds(10, 4, 64) == [(0, 10)]
    assert chunk_bounds(0, 4, 64) == [(0, 0)]
    bounds = chunk_bounds(1000, 3, 64)
    assert bounds[0][0] == 0 and bounds[-1][1] == 1000
    assert all(a[1] == b[0] and b[0] % 64 == 0 for a, b in pairwise(bounds))
