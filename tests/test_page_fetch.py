"""The page fetch rides on the ranking statement: pages joined onto the ranked rows."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wagtail.models import Page

from tests.factories import NewsPageFactory
from tests.helpers import axis, ids, make_reader, publish, set_embedding
from tests.testapp.models import ArticlePage, NewsPage
from wagtail_neural_feed import Feed, recommend
from wagtail_neural_feed.ranking import fetch


class Nearest(Feed):
    slug = "nearest-fetch"
    freshness_weight = 0.0
    popularity_weight = 0.0


class Diverse(Nearest):
    slug = "diverse-fetch"
    diversity = "mmr"


@pytest.fixture
def two_types(make_article, home):
    """Three articles and three news pages, all close to axis 0, in a known order."""
    pages = []
    for n in range(3):
        article = make_article(f"Article {n}", "<p>Intro</p>", body=[("heading", f"H{n}")])
        news = NewsPageFactory.build(title=f"News {n}", summary=f"Summary {n}", live=False)
        home.add_child(instance=news)
        publish(news)
        set_embedding(article, axis(0) + (0.1 + 0.2 * n) * axis(1))
        set_embedding(news, axis(0) + (0.2 + 0.2 * n) * axis(1))
        pages += [article, news]
    return pages


def same_fields(fetched: Page, loaded: Page) -> None:
    assert type(fetched) is type(loaded) and fetched.pk == loaded.pk
    for field in type(loaded)._meta.concrete_fields:
        ours, orms = field.value_to_string(fetched), field.value_to_string(loaded)
        if field.name == "body":  # the same blocks; key order differs once a stream is read
            ours, orms = json.loads(ours), json.loads(orms)
        assert ours == orms, field.name
    assert fetched._state.db == "default" and not fetched._state.adding


def test_two_page_types_come_in_the_ranking_round_trip(two_types):
    reader = make_reader(axis(0))
    with CaptureQueriesContext(connection) as queries:
        pages = recommend(reader, feed=Nearest, limit=6)
    assert len(queries) == 2  # round trip 1, the ranking statement with its pages
    assert ids(pages) == ids(two_types)  # closest to axis 0 first
    assert [page.recommendation.rank for page in pages] == [1, 2, 3, 4, 5, 6]
    for page in pages:
        same_fields(page, type(page).objects.get(pk=page.pk))
    assert pages[0].body[0].value == "H0"  # the StreamField's converter ran
    assert pages[1].summary == "Summary 0"


def test_a_type_beyond_the_join_is_fetched_on_its_own(two_types, monkeypatch):
    """Over the table budget a page type is fetched as before: one more query,
    the same list."""
    reader, now = make_reader(axis(0)), timezone.now()
    joined = recommend(reader, feed=Nearest, limit=6, now=now)
    monkeypatch.setattr(fetch, "MAX_JOINED_TABLES", 2)  # the page table and one type's
    with CaptureQueriesContext(connection) as queries:
        pages = recommend(reader, feed=Nearest, limit=6, now=now)
    assert len(queries) == 3
    assert ids(pages) == ids(joined)
    assert {type(page) for page in pages} == {ArticlePage, NewsPage}
    for ours, theirs in zip(pages, joined, strict=True):
        same_fields(ours, theirs)
        assert ours.recommendation == theirs.recommendation


def test_a_page_unpublished_behind_the_index_is_left_out(two_types):
    """The ranking reads the embedding table; a page no longer live there yet
    is dropped by the join, as by the separate fetch before."""
    reader = make_reader(axis(0))
    gone = two_types[2]
    Page.objects.filter(pk=gone.pk).update(live=False)
    pages = recommend(reader, feed=Nearest, limit=6)
    assert gone.pk not in ids(pages)
    assert ids(pages) == [page.pk for page in two_types if page.pk != gone.pk]
    assert [page.recommendation.rank for page in pages] == [1, 2, 4, 5, 6]


def test_diversity_by_mmr_fetches_the_picked_pages(two_types):
    """MMR needs the embeddings (binary) and picks among more rows: its pages
    are fetched after the pick, one query per page type."""
    reader = make_reader(axis(0))
    with CaptureQueriesContext(connection) as queries:
        pages = recommend(reader, feed=Diverse, limit=4)
    assert len(pages) == 4 and len(queries) == 2 + len({type(page) for page in pages})
    for page in pages:
        same_fields(page, type(page).objects.get(pk=page.pk))


def test_a_feed_of_one_page_type_joins_only_that_type(two_types):
    class NewsOnly(Nearest):
        slug = "news-only-fetch"
        page_types = ["testapp.NewsPage"]

    assert fetch.page_models_for(NewsOnly.page_types) == [NewsPage]
    pages = recommend(make_reader(axis(0)), feed=NewsOnly, limit=6)
    assert ids(pages) == [page.pk for page in two_types if isinstance(page, NewsPage)]
