"""Scoring stored impressions: each shown list re-ordered by each ranker, checked by hand.

Four pages are shown to a reader who clicks B. The reader had read X (the
same direction as A) two days before; D was read by three other readers, A
by one; B is the newest. So, as of the list's time:

* pure similarity orders A (1), D (0.8), then B and C (0, tied: shown order):
  B at rank 3, AUC 1/6 (B loses to A and D, ties C), MRR 1/3, nDCG 1/log2(4);
* most recent puts B first: AUC 1, MRR 1, nDCG 1;
* most popular orders D, A, then B and C (0, tied): the same as similarity.

The click is stored as a view at the list's own time (as the MIND importer
stores it): if it leaked into the profile, B would no longer score 0.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from tests.bulk import bulk_embeddings, bulk_pages
from tests.factories import SectionPageFactory
from tests.helpers import make_reader
from wagtail_neural_feed.evaluation.replay import Replay
from wagtail_neural_feed.feeds import get_feed_config
from wagtail_neural_feed.models import Impression, Interaction

T = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _unit(*weights):
    vector = np.zeros(384)
    vector[: len(weights)] = weights
    return vector / np.linalg.norm(vector)


@pytest.fixture
def shown_list(home):
    section = SectionPageFactory(parent=home, title="News", slug="news")
    ages = {"A": 4, "B": 1 / 24, "C": 3, "D": 2, "X": 5}
    names = list(ages)
    ids = bulk_pages(section, len(names), published_at=lambda i: T - timedelta(days=ages[names[i]]))
    page = dict(zip(names, ids, strict=True))
    vectors = {
        "A": _unit(1),
        "B": _unit(0, 1),
        "C": _unit(0, 0, 1),
        "D": _unit(0.8, 0.6),
        "X": _unit(1),
    }
    bulk_embeddings(ids, np.stack([vectors[name] for name in names]))
    reader = make_reader()

    def read(who, name, when):
        Interaction.objects.create(
            reader=who, page_id=page[name], kind="view", weight=1.0, created_at=when
        )

    read(reader, "X", T - timedelta(days=2))
    read(reader, "B", T)  # the click, stored at the list's time
    for n in range(4):
        read(make_reader(), "D" if n < 3 else "A", T - timedelta(days=1, minutes=n))
    Impression.objects.create(
        list_id="mind-1",
        reader=reader,
        feed="mind",
        page_ids=[page[name] for name in "ABCD"],
        shown_at=T,
        clicked_page_ids=[page["B"]],
        clicked_at=T,
    )
    return page


def test_impressions_scored_by_each_ranker_as_of_the_list_time(shown_list):
    result = Replay(get_feed_config("default")).run()
    scored = result.report.impressions_dict()
    assert result.report.impression_lists == 1
    third = {"auc": 1 / 6, "mrr": 1 / 3, "ndcg@5": 1 / math.log2(4), "ndcg@10": 1 / math.log2(4)}
    first = {"auc": 1.0, "mrr": 1.0, "ndcg@5": 1.0, "ndcg@10": 1.0}
    for name, expected in [
        ("pure similarity", third),
        ("most recent", first),
        ("most popular", third),
    ]:
        assert scored[name]["lists"] == 1
        for metric, value in expected.items():
            assert scored[name][metric] == pytest.approx(value), (name, metric)
    assert 0 <= scored["feed"]["auc"] <= 1 and 0 <= scored["random"]["auc"] <= 1


def test_sql_engine_does_not_score_impressions(shown_list):
    result = Replay(get_feed_config("default"), engine="sql").run()
    assert result.report.impression_lists == 0


def test_command_reports_impressions(shown_list, tmp_path):
    out, path = StringIO(), tmp_path / "evaluation.json"
    call_command("neural_feed_evaluate", "--json", str(path), stdout=out)
    assert "Stored impressions: 1 shown lists" in out.getvalue()
    data = json.loads(path.read_text())
    assert data["impressions"]["most recent"] == {
        "lists": 1,
        "auc": 1.0,
        "mrr": 1.0,
        "ndcg@5": 1.0,
        "ndcg@10": 1.0,
    }
    assert data["engine"] == "fast"
