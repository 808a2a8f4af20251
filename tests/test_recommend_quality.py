"""Recommendation quality with the real model on a small labelled set of pages.

Four topics, six articles each, written for these tests. A reader who liked
two pages on a topic must get that topic's other pages first.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import ArticlePageFactory
from tests.helpers import publish
from wagtail_neural_feed import Feed, recommend, similar_pages
from wagtail_neural_feed.models import Interaction, PageEmbedding, Reader, ReaderProfile

pytestmark = [pytest.mark.real_model]

ARTICLES = {
    "astronomy": [
        ("Saturn's rings up close", "A spacecraft photographed the icy rings around the planet."),
        ("How stars are born", "Clouds of gas collapse under gravity until fusion ignites."),
        ("Watching a lunar eclipse", "The moon turns red as it passes through Earth's shadow."),
        ("Exoplanets in the habitable zone", "Telescopes find planets orbiting distant suns."),
        ("The life of a black hole", "Matter spirals in and light cannot escape the horizon."),
        ("Choosing a backyard telescope", "Aperture matters most for seeing faint galaxies."),
    ],
    "cooking": [
        ("Perfect sourdough at home", "Feed the starter, fold the dough and bake in a hot oven."),
        ("A weeknight tomato pasta", "Garlic, olive oil and ripe tomatoes simmer into a sauce."),
        ("Roasting vegetables", "High heat caramelises carrots, onions and squash."),
        (
            "The secret to fluffy pancakes",
            "Whisk the batter lightly and let it rest before frying.",
        ),
        ("Homemade chicken stock", "Simmer bones with herbs for hours, then strain."),
        ("Baking chocolate chip cookies", "Brown the butter and chill the dough overnight."),
    ],
    "football": [
        ("A late winner in the derby", "The striker scored in stoppage time to beat their rivals."),
        (
            "How the offside rule works",
            "A forward may not be behind the last defender when passed to.",
        ),
        ("The goalkeeper's penalty save", "She dived left and stopped the spot kick."),
        ("Transfer window gossip", "The club is close to signing a young midfielder."),
        ("Tactics: pressing high", "The team wins the ball back near the opponent's goal."),
        ("Cup final preview", "Both squads are fit ahead of the match at the stadium."),
    ],
    "gardening": [
        ("Planting tomatoes in spring", "Seedlings go out after the last frost, in full sun."),
        ("Composting kitchen scraps", "Mix green and brown waste and turn the heap."),
        ("Pruning roses", "Cut above an outward-facing bud in late winter."),
        ("Growing herbs on a windowsill", "Basil and parsley thrive in pots with good drainage."),
        ("Keeping slugs off lettuce", "Copper tape and beer traps protect the seedlings."),
        ("Designing a wildflower meadow", "Sow native seeds to attract bees and butterflies."),
    ],
}


@pytest.fixture
def labelled(real_model, home):
    pages = {}
    for topic, articles in ARTICLES.items():
        for title, intro in articles:
            page = ArticlePageFactory.build(title=title, intro=f"<p>{intro}</p>", live=False)
            home.add_child(instance=page)
            publish(page)
            pages[page.pk] = topic
    assert PageEmbedding.objects.ready().count() == len(pages)
    return pages


def reader_who_liked(page_ids) -> Reader:
    """A reader whose profile is the mean of pages they liked (the profile maths' result)."""
    reader = Reader.objects.create(visitor_id=Reader.new_visitor_id())
    vectors = np.stack([PageEmbedding.objects.get(page_id=pk).embedding for pk in page_ids])
    profile = vectors.mean(axis=0)
    profile /= np.linalg.norm(profile)
    ReaderProfile.objects.create(
        reader=reader, feed="default", vector=profile, sum_vector=profile, interaction_count=2
    )
    from django.utils import timezone

    for pk in page_ids:
        Interaction.objects.create(
            reader=reader, page_id=pk, kind="like", weight=1.0, created_at=timezone.now()
        )
    return reader


class Personal(Feed):
    slug = "personal"
    freshness_weight = 0.0  # every page is equally new here
    popularity_weight = 0.0


@pytest.mark.parametrize("topic", list(ARTICLES))
def test_reader_with_a_clear_interest_gets_that_topic(labelled, topic):
    liked = [pk for pk, t in labelled.items() if t == topic][:2]
    reader = reader_who_liked(liked)
    result = recommend(reader, feed=Personal, limit=4)
    assert len(result) == 4
    assert not set(liked) & {page.pk for page in result}  # already read
    topics = [labelled[page.pk] for page in result]
    assert topics.count(topic) >= 3, topics
    assert topics[0] == topic


def test_similar_pages_stay_on_topic(labelled):
    on_topic = total = 0
    for pk, topic in labelled.items():
        page = ArticlePageFactory._meta.model.objects.get(pk=pk)
        similar = similar_pages(page, limit=3)
        assert len(similar) == 3 and page.pk not in {p.pk for p in similar}
        on_topic += [labelled[p.pk] for p in similar].count(topic)
        total += len(similar)
    # Chance would be 5/23 (0.22); short texts leave a few honest confusions
    # (composting "kitchen scraps" sits near cooking).
    assert on_topic / total >= 0.8
