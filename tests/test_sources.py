"""A feed fed by the site's own "likes" (m2m or a through model) follows every change."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.test import TestCase

from tests.helpers import axis, ids, set_embedding
from tests.testapp.models import Like
from wagtail_neural_feed import recommend
from wagtail_neural_feed.models import Reader, ReaderProfile

M2M = {"mode": "m2m", "model": "testapp.ArticlePage", "field": "likes"}
MODEL = {"mode": "model", "model": "testapp.Like", "user_field": "user", "page_field": "page"}


@pytest.fixture
def source_feeds(settings):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "FEEDS": ["tests.feeds.M2MLikesFeed", "tests.feeds.ModelLikesFeed"],
    }


@pytest.fixture
def pages(make_article):
    made = []
    for topic in range(4):
        page = make_article(f"Liked topic {topic}")
        set_embedding(page, axis(topic))
        made.append(page)
    return made


def vector(user, feed):
    profile = ReaderProfile.objects.get(reader__user=user, feed=feed)
    return None if profile.vector is None else np.asarray(profile.vector)


def committed():
    return TestCase.captureOnCommitCallbacks(execute=True)


def test_m2m_adds_removals_and_clear_feed_the_profile(source_feeds, pages):
    fan = User.objects.create_user("fan")
    with committed():
        pages[0].likes.add(fan)
    assert np.allclose(vector(fan, "m2m-likes"), axis(0), atol=1e-5)
    with committed():
        fan.liked_articles.add(pages[1])  # from the user's side
    assert np.allclose(vector(fan, "m2m-likes"), (axis(0) + axis(1)) / np.sqrt(2), atol=1e-5)
    with committed():
        pages[0].likes.remove(fan)
    assert np.allclose(vector(fan, "m2m-likes"), axis(1), atol=1e-5)
    with committed():
        pages[1].likes.clear()
    assert vector(fan, "m2m-likes") is None
    assert ReaderProfile.objects.get(reader__user=fan, feed="m2m-likes").interaction_count == 0


def test_through_model_saves_and_deletes_feed_the_profile(source_feeds, pages):
    fan = User.objects.create_user("fan2")
    with committed():
        like = Like.objects.create(user=fan, page=pages[2])
        Like.objects.create(user=fan, page=pages[3])
    assert np.allclose(vector(fan, "model-likes"), (axis(2) + axis(3)) / np.sqrt(2), atol=1e-5)
    with committed():
        like.delete()
    assert np.allclose(vector(fan, "model-likes"), axis(3), atol=1e-5)


def test_source_feed_ranks_by_likes_and_hides_liked_pages(source_feeds, pages):
    fan = User.objects.create_user("fan3")
    with committed():
        pages[2].likes.add(fan)
    result = recommend(fan, feed="m2m-likes", limit=3)
    assert pages[2].pk not in ids(result)  # already liked = already read
    assert len(result) == 3
    assert Reader.objects.filter(user=fan).count() == 1
