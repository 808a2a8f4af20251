"""Scripted traffic: cookieless floods create no readers, and no one reader can buy
a page's popularity (issue 12, item 5)."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import Client

from tests.test_endpoints import beacon, post
from wagtail_neural_feed.models import Interaction, PagePopularity, Reader
from wagtail_neural_feed.popularity import refresh_popularity
from wagtail_neural_feed.tracking import record_interaction


@pytest.fixture
def probation(settings):
    cache.clear()
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "VISITOR_PROBATION_SECONDS": 3600,
        "RATE_LIMIT_PER_IP_PER_MINUTE": 100_000,
    }
    yield settings
    cache.clear()


def popularity(page) -> float:
    row = PagePopularity.objects.filter(page_id=page.pk).first()
    return row.score if row else 0.0


def test_a_cookieless_flood_creates_no_readers_and_no_popularity(probation, make_article):
    flooded = make_article("Flooded")
    liked = make_article("Liked by people")
    script = Client()
    for _ in range(1300):
        script.cookies.clear()  # a script drops the cookie every time
        assert post(script, beacon(flooded)).status_code == 201
    # A script that invents a fresh visitor cookie every time is no better off.
    for _ in range(50):
        script.cookies["nf_visitor"] = str(uuid.uuid4())
        assert post(script, beacon(flooded)).status_code == 201
    assert Reader.objects.count() == 0
    assert Interaction.objects.count() == 0
    for _ in range(3):  # people: a first visit, then they come back with the cookie
        person = Client()
        assert post(person, beacon(liked)).status_code == 201
        assert post(person, beacon(liked, kind="like")).status_code == 201
    assert Reader.objects.count() == 3
    # The held first view was stored with the like, at its own time.
    assert sorted(Interaction.objects.values_list("kind", flat=True)) == ["like"] * 3 + ["view"] * 3
    refresh_popularity()
    assert popularity(liked) > 0 and popularity(flooded) == 0


def test_one_reader_cannot_buy_a_page_popularity(settings, make_article):
    pushed = make_article("Pushed by one script")
    liked = make_article("Liked by three people")
    script = Reader.objects.create(visitor_id=uuid.uuid4())
    for _ in range(400):  # under the daily plausibility limit: capped per page and day
        record_interaction(script, pushed, "view")
    for _ in range(3):
        person = Reader.objects.create(visitor_id=uuid.uuid4())
        record_interaction(person, liked, "view")
        record_interaction(person, liked, "like")
    refresh_popularity()
    cap = settings.WAGTAIL_NEURAL_FEED.get("POPULARITY_READER_CAP", 5.0)
    assert popularity(pushed) == pytest.approx(cap, rel=1e-3)
    assert popularity(liked) > popularity(pushed)


def test_a_reader_with_an_implausible_day_counts_for_nothing(settings, make_article):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "POPULARITY_MAX_READER_DAILY": 50,
    }
    page = make_article("Hammered")
    bot = Reader.objects.create(visitor_id=uuid.uuid4())
    for _ in range(51):
        record_interaction(bot, page, "view")
    person = Reader.objects.create(visitor_id=uuid.uuid4())
    record_interaction(person, page, "view")
    refresh_popularity()
    assert popularity(page) == pytest.approx(1.0, rel=1e-3)  # the person's view only
    assert PagePopularity.objects.get(page_id=page.pk).interactions == 1
