"""The list cache's round trips: a reader's list and version in one, old versions missed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from wagtail_neural_feed import list_cache
from wagtail_neural_feed.models import Reader

PARTS = ("default", False, None, 10, (), False, "en", 1, ())


@pytest.fixture(autouse=True)
def cached_lists(settings):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "LIST_CACHE_SECONDS": 60}
    cache.clear()
    yield
    cache.clear()


class Recording:
    """The list cache, recording which of its methods the list cache module calls
    (each one round trip on Redis or Memcached)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(cache, name)


@pytest.fixture
def recorded(monkeypatch):
    recording = Recording()
    monkeypatch.setattr(list_cache, "list_cache", lambda: recording)
    return recording


def test_a_readers_list_and_version_come_back_in_one_round_trip(recorded):
    assert list_cache.get_list("u7", PARTS)[0] is None
    list_cache.set_list(list_cache.get_list("u7", PARTS)[1], ["a", "b"])
    recorded.calls.clear()
    found, _ = list_cache.get_list("u7", PARTS)
    assert found == ["a", "b"]
    assert recorded.calls == ["get_many"]


def test_anonymous_readers_list_is_one_read(recorded):
    list_cache.set_list(list_cache.get_list(list_cache.ANONYMOUS, PARTS)[1], ["a"])
    recorded.calls.clear()
    assert list_cache.get_list(list_cache.ANONYMOUS, PARTS)[0] == ["a"]
    assert recorded.calls == ["get"]


@pytest.mark.django_db
def test_a_list_ranked_before_a_profile_change_is_never_served():
    reader = Reader.objects.create(user=User.objects.create_user("reader"))
    identity = f"u{reader.user_id}"
    _, before = list_cache.get_list(identity, PARTS)
    list_cache.set_list(before, ["old"])
    list_cache._bump(reader.pk)  # the profile changed
    assert list_cache.get_list(identity, PARTS)[0] is None
    # A slow request that began before the change stores its list afterwards: still a miss.
    list_cache.set_list(before, ["ranked with the old profile"])
    found, after = list_cache.get_list(identity, PARTS)
    assert found is None
    list_cache.set_list(after, ["new"])
    assert list_cache.get_list(identity, PARTS)[0] == ["new"]
    assert list_cache.get_list("u999", PARTS)[0] is None  # another reader's key


def test_caching_off_reads_nothing(settings, recorded):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "LIST_CACHE_SECONDS": 0}
    assert list_cache.get_list("u7", PARTS) == (None, None)
    assert recorded.calls == []
