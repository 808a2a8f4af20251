"""The co-read store ("readers of this also read") and its term in the ranking."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from tests.helpers import axis, ids, make_reader, set_embedding
from wagtail_neural_feed import FeedConfig, recommend
from wagtail_neural_feed.co_reads import rebuild_co_reads, update_co_reads
from wagtail_neural_feed.exceptions import NeuralFeedConfigurationError
from wagtail_neural_feed.models import CoRead, Interaction, PageEmbedding, Reader
from wagtail_neural_feed.popularity import refresh_popularity
from wagtail_neural_feed.ranking import Audience, load_scope, ranking_statement
from wagtail_neural_feed.tracking import store_interaction

DAY = 86400.0


def read(reader, page, when, kind="view", weight=1.0):
    """Record an interaction the way the beacon does; the profile job runs on commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        store_interaction(reader, page.pk, kind, None, weight, created_at=when)


def pairs() -> dict[tuple[int, int], CoRead]:
    return {(row.page_id, row.other_page_id): row for row in CoRead.objects.all()}


def decayed(row: CoRead, at) -> float:
    half_life = 14.0 * DAY  # CO_READ_HALF_LIFE_DAYS
    return row.weight * 2 ** (-(at - row.updated_at).total_seconds() / half_life)


@pytest.fixture
def pages(make_article):
    """Six articles: P, its close neighbours N1..N3, and Q, R, S far from everything."""
    made = {}
    vectors = {
        "P": axis(0),
        "N1": axis(0) + 0.3 * axis(1),
        "N2": axis(0) + 0.4 * axis(2),
        "N3": axis(0) + 0.5 * axis(3),
        "Q": axis(5),
        "R": axis(6),
        "S": axis(7),
    }
    for name, vector in vectors.items():
        made[name] = make_article(f"Page {name}")
        set_embedding(made[name], vector)
    return made


def test_the_profile_job_counts_positive_reads_once_per_window(pages):
    p, q, s = pages["P"], pages["Q"], pages["S"]
    t0 = timezone.now() - timedelta(days=20)
    one, two, three = make_reader(), make_reader(), make_reader()
    read(one, p, t0)
    read(one, q, t0 + timedelta(hours=1))
    read(one, p, t0 + timedelta(hours=2), kind="like", weight=3.0)  # same window: no new pair
    read(one, s, t0 + timedelta(hours=3), kind="dislike", weight=-3.0)  # dislikes never count
    read(two, p, t0)
    read(two, q, t0 + timedelta(days=4))  # outside the 3-day window
    assert set(pairs()) == {(p.pk, q.pk), (q.pk, p.pk)}
    first = pairs()[(p.pk, q.pk)]
    assert first.weight == pytest.approx(1.0) and first.updated_at == t0 + timedelta(hours=1)
    t1 = t0 + timedelta(days=1)
    read(three, q, t1)
    read(three, p, t1 + timedelta(hours=1))
    both = pairs()
    expected = 2 ** (-DAY / (14 * DAY)) + 1.0  # reader one's pair, decayed a day; reader three's
    for key in [(p.pk, q.pk), (q.pk, p.pk)]:
        assert both[key].weight == pytest.approx(expected)
        assert both[key].updated_at == t1 + timedelta(hours=1)
    # Idempotent: the job again (a redelivered task) adds nothing.
    mark = Reader.objects.get(pk=three.pk).co_read_mark
    assert mark == Interaction.objects.filter(reader=three).latest("id").pk
    assert update_co_reads(three.pk) == 0
    assert pairs()[(p.pk, q.pk)].weight == pytest.approx(expected)


def test_each_page_keeps_its_strongest_co_reads_and_a_rebuild_agrees(pages, settings):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "CO_READ_MAX_PER_PAGE": 2}
    p, q, r, s = pages["P"], pages["Q"], pages["R"], pages["S"]
    t0 = timezone.now() - timedelta(days=2)
    for n, other in enumerate([q, q, r, r, r, s]):
        reader = make_reader()
        t = t0 + timedelta(minutes=10 * n)
        Interaction.objects.create(reader=reader, page=p, kind="view", weight=1.0, created_at=t)
        Interaction.objects.create(
            reader=reader, page=other, kind="view", weight=1.0, created_at=t + timedelta(minutes=1)
        )
        update_co_reads(reader.pk)
    kept = pairs()
    # P's weakest co-read (S, one reader) is dropped; S still keeps P.
    assert {other for page, other in kept if page == p.pk} == {q.pk, r.pk}
    assert (s.pk, p.pk) in kept
    now = timezone.now()
    incremental = {key: decayed(row, now) for key, row in kept.items()}
    assert incremental[(p.pk, r.pk)] > incremental[(p.pk, q.pk)]
    rebuild_co_reads()
    rebuilt = {key: decayed(row, now) for key, row in pairs().items()}
    assert set(rebuilt) == set(incremental)
    for key, value in incremental.items():
        assert rebuilt[key] == pytest.approx(value, rel=1e-9)
    out = call_command_output("neural_feed_co_reads")
    assert f"{len(rebuilt)} co-read page pairs" in out


def call_command_output(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def co_read_world(pages):
    """Three readers read P then Q; one read P then the restricted R; one P then the
    unpublished S. Q, R and S are far from P, so only co-reading can bring them in."""
    p = pages["P"]
    t0 = timezone.now() - timedelta(days=1)
    for n, other in enumerate(["Q", "Q", "Q", "R", "S"]):
        reader = make_reader()
        t = t0 + timedelta(minutes=10 * n)
        Interaction.objects.create(reader=reader, page=p, kind="view", weight=1.0, created_at=t)
        Interaction.objects.create(
            reader=reader,
            page=pages[other],
            kind="view",
            weight=1.0,
            created_at=t + timedelta(minutes=1),
        )
        update_co_reads(reader.pk)
    PageEmbedding.objects.filter(page_id=pages["R"].pk).update(view_restricted=True)
    PageEmbedding.objects.filter(page_id=pages["S"].pk).update(live=False)


@pytest.fixture(params=["index", "hot tier", "exact"])
def ranking_path(request, settings):
    """The index searches (fallback), with the hot tier, and the small-site exact scan."""
    if request.param == "exact":
        settings.WAGTAIL_NEURAL_FEED = {
            **settings.WAGTAIL_NEURAL_FEED,
            "EXACT_BELOW_PAGES": 1_000_000,
        }
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE wagtail_neural_feed_pageembedding")
    return request.param


def test_a_context_list_brings_in_pages_read_with_it(pages, ranking_path):
    co_read_world(pages)
    if ranking_path == "hot tier":
        refresh_popularity()
    p, q = pages["P"], pages["Q"]
    reader = make_reader(axis(0))
    # The world is laid out for a similarity-led feed: Q must not make the list on merit.
    off = FeedConfig(
        slug="co",
        candidates=3,
        freshness_weight=0.2,
        popularity_weight=0.1,
        freshness_half_life_days=14.0,
    )
    on = replace(off, co_read_weight=1.0)
    without = recommend(reader, feed=off, limit=3, context_page=p)
    assert q.pk not in ids(without)  # far from P and the reader: not on merit alone
    listed = recommend(reader, feed=on, limit=3, context_page=p)
    assert ids(listed)[0] == q.pk
    got = listed[0].recommendation
    # The score is the formula plus the co-read term: Q is P's only visible co-read (1.0).
    formula = got.similarity + off.freshness_weight * got.freshness
    formula += off.popularity_weight * got.popularity
    assert got.score == pytest.approx(formula + 1.0, abs=1e-6)
    # Never a page the reader may not see: R is restricted, S unpublished.
    longer = recommend(reader, feed=on, limit=6, context_page=p)
    assert pages["R"].pk not in ids(longer) and pages["S"].pk not in ids(longer)
    assert p.pk not in ids(longer)


def test_for_you_lists_anchor_on_the_readers_last_pages(pages, ranking_path):
    co_read_world(pages)
    p, q = pages["P"], pages["Q"]
    reader = make_reader(axis(0) + 0.2 * axis(1))
    Interaction.objects.create(
        reader=reader, page=p, kind="view", weight=1.0, created_at=timezone.now()
    )
    on = FeedConfig(slug="co", co_read_weight=1.0)
    listed = recommend(reader, feed=on, limit=3)
    assert ids(listed)[0] == q.pk and p.pk not in ids(listed)  # already read
    stranger = make_reader(axis(0) + 0.2 * axis(1))  # has read nothing: no anchor
    assert q.pk not in ids(recommend(stranger, feed=on, limit=3))


def test_weight_zero_leaves_the_statement_and_the_lists_unchanged(pages, ranking_path):
    co_read_world(pages)
    reader = make_reader(axis(0) + 0.1 * axis(5))
    Interaction.objects.create(
        reader=reader, page=pages["N1"], kind="view", weight=1.0, created_at=timezone.now()
    )
    config = FeedConfig(slug="co", co_read_weight=0.0)
    audience = Audience(reader_id=reader.pk)
    for context in (None, pages["P"].pk):
        scope = load_scope(config, audience, context_page_id=context)
        statement = ranking_statement(config, audience, scope, limit=5)
        assert "co_read" not in statement.sql
        weighted = ranking_statement(replace(config, co_read_weight=0.5), audience, scope, limit=5)
        assert "co_read" in weighted.sql
    now = timezone.now()

    def lists():
        on_page = recommend(reader, feed=config, context_page=pages["P"], now=now)
        for_you = recommend(reader, feed=config, now=now)
        return [[(p.pk, p.recommendation.score) for p in pages] for pages in (on_page, for_you)]

    with_store = lists()
    assert CoRead.objects.exists()
    CoRead.objects.all().delete()
    assert lists() == with_store


def test_co_read_weight_and_cold_start_are_validated():
    with pytest.raises(NeuralFeedConfigurationError, match="co_read_weight"):
        FeedConfig(slug="x", co_read_weight=-1)
    assert FeedConfig(slug="x", cold_start=("context", "co_read")).cold_start[-1] == "co_read"


def test_a_cold_reader_on_a_page_gets_its_co_reads_as_candidates(pages):
    """With "co_read" in ``cold_start`` a reader without a profile reading a page has
    its co-reads among the candidates even at weight 0 (like "popular")."""
    co_read_world(pages)
    cold = FeedConfig(slug="cold", cold_start=("context", "co_read", "fresh"))
    audience = Audience(reader_id=None)
    scope = load_scope(cold, audience, context_page_id=pages["P"].pk)
    assert "co_read_pages" in ranking_statement(cold, audience, scope, limit=3).sql
    warm = replace(scope, profile=axis(0))
    assert "co_read" not in ranking_statement(cold, audience, warm, limit=3).sql
    listed = recommend(
        None, feed=replace(cold, co_read_weight=2.0), limit=3, context_page=pages["P"]
    )
    assert pages["Q"].pk in ids(listed)
    assert pages["R"].pk not in ids(listed) and pages["S"].pk not in ids(listed)
