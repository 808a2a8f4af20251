"""More like this, beyond one vector: neighbour expansion and shared words.

Hand-made corpora with the test encoder and hand-set vectors: the lexical
signal promotes the page that shares the context page's words, expansion
promotes the page the neighbourhood agrees on; the filters are the plain
statement's, and the list still costs one ranking statement.
"""

from __future__ import annotations

import re
from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wagtail.models import PageViewRestriction

from tests.helpers import axis, ids, publish, set_embedding, unit
from wagtail_neural_feed import FeedConfig, similar_pages
from wagtail_neural_feed.api import SIMILAR_FEED
from wagtail_neural_feed.exceptions import NeuralFeedConfigurationError
from wagtail_neural_feed.models import PageEmbedding

PLAIN = replace(SIMILAR_FEED, slug="plain", expansion_neighbours=0, lexical_weight=0.0)
LEXICAL = replace(PLAIN, slug="lexical", lexical_weight=0.5)
EXPANDED = replace(PLAIN, slug="expanded", expansion_neighbours=4, expansion_weight=1.0)


def lexemes_of(page) -> set[str]:
    stored = PageEmbedding.objects.values_list("lexemes", flat=True).get(page_id=page.pk)
    return set(re.findall(r"'([^']*)'", stored))


def completeness(pages) -> set[str]:
    return {page.recommendation.completeness for page in pages}


def test_lexemes_are_stored_when_a_page_is_published(make_article):
    page = make_article("Tomatoes", "<p>Pruning tomato plants in a greenhouse</p>")
    assert {"tomato", "prune", "greenhous"} <= lexemes_of(page)
    page.intro = "<p>Sowing carrots</p>"
    publish(page)
    assert "carrot" in lexemes_of(page) and "greenhous" not in lexemes_of(page)


@pytest.fixture
def word_twins(make_article):
    """Two candidates with the same vector; only one shares the page's words."""
    page = make_article("Sourdough starter", "<p>Feeding a rye sourdough starter daily</p>")
    sharing = make_article("Rye bread", "<p>A rye sourdough loaf from your starter</p>")
    other = make_article("Bicycle chains", "<p>Cleaning and oiling a bicycle chain</p>")
    far = make_article("Far away", "<p>Nothing in common at all</p>")
    set_embedding(page, axis(0))
    set_embedding(sharing, axis(0) + axis(1))
    set_embedding(other, axis(0) + axis(1))
    set_embedding(far, axis(5))
    # The page without shared words is the fresher: plain ranking puts it first.
    PageEmbedding.objects.filter(pk=other.pk).update(first_published_at=timezone.now())
    return page, sharing, other


def test_shared_words_promote_the_right_page(word_twins):
    page, sharing, other = word_twins
    plain = similar_pages(page, limit=2, feed=PLAIN)
    assert ids(plain) == [other.pk, sharing.pk]
    lexical = similar_pages(page, limit=2, feed=LEXICAL)
    assert ids(lexical) == [sharing.pk, other.pk]
    assert completeness(lexical) == {"rerank"}
    first, second = (p.recommendation for p in lexical)
    # Same vector, so the same similarity: the words made the difference.
    assert first.similarity == pytest.approx(second.similarity, abs=1e-6)
    assert first.score > second.score + 0.1


@pytest.fixture
def outlier_and_cluster(make_article):
    """The page's nearest page is an outlier; the next four agree with each other."""
    page = make_article("Query")
    outlier = make_article("Outlier")
    cluster = [make_article(f"Cluster {n}") for n in range(4)]
    set_embedding(page, axis(0))
    set_embedding(outlier, axis(0) + 0.72 * axis(2))  # cosine 0.812
    for n, member in enumerate(cluster):
        set_embedding(member, axis(0) + 0.75 * axis(1) + 0.05 * axis(10 + n))  # about 0.80
    return page, outlier, cluster


def test_expansion_follows_what_the_neighbours_agree_on(outlier_and_cluster):
    page, outlier, cluster = outlier_and_cluster
    assert similar_pages(page, limit=1, feed=PLAIN)[0].pk == outlier.pk
    expanded = similar_pages(page, limit=5, feed=EXPANDED)
    assert set(ids(expanded[:4])) == {member.pk for member in cluster}
    assert ids(expanded)[4] == outlier.pk
    # The reported similarity is still to the page itself.
    top = expanded[0].recommendation
    assert top.similarity == pytest.approx(
        float(unit(axis(0)) @ unit(axis(0) + 0.75 * axis(1) + 0.05 * axis(10))), abs=1e-3
    )


@pytest.mark.parametrize("feed", [LEXICAL, EXPANDED, SIMILAR_FEED])
def test_one_ranking_statement_and_the_same_filters(word_twins, make_article, feed):
    page = word_twins[0]
    hidden = make_article("Rye sourdough starter, restricted")
    set_embedding(hidden, axis(0))
    PageViewRestriction.objects.create(page=hidden, restriction_type="login")
    PageEmbedding.objects.filter(pk=hidden.pk).update(view_restricted=True)
    draft = make_article("Rye sourdough starter, draft", live=False)
    with CaptureQueriesContext(connection) as queries:
        result = similar_pages(page, limit=10, feed=feed)
    # Round trip 1, then the ranking statement carrying its pages.
    assert len(queries) == 2
    assert hidden.pk not in ids(result) and draft.pk not in ids(result)
    assert page.pk not in ids(result)
    assert set(ids(result)) == set(ids(similar_pages(page, limit=10, feed=PLAIN)))


def test_a_short_search_is_filled_with_fresh_pages(word_twins, settings):
    """A filter that starves the nearest search leaves the list to the fresh tail."""
    page = word_twins[0]
    narrow = replace(LEXICAL, candidates=1)
    result = similar_pages(page, limit=3, feed=narrow)
    assert len(result) == 3 and page.pk not in ids(result)


def test_signals_are_validated():
    with pytest.raises(NeuralFeedConfigurationError, match="lexical_weight"):
        FeedConfig(slug="x", lexical_weight=-1.0)
    with pytest.raises(NeuralFeedConfigurationError, match="expansion_neighbours"):
        FeedConfig(slug="x", expansion_neighbours=-2)


def test_neural_feed_embed_fills_lexemes_of_rows_embedded_without_them(make_article):
    page = make_article("Kites", "<p>Flying kites on a windy beach</p>")
    PageEmbedding.objects.filter(pk=page.pk).update(lexemes=None)
    out = StringIO()
    call_command("neural_feed_embed", stdout=out)
    assert "full-text words of 1 page(s) embedded before" in out.getvalue()
    assert {"kite", "beach", "windi"} <= lexemes_of(page)
