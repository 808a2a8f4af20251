"""Signal wiring, the bulk-update switch, the cached feed registry and setting names."""

from __future__ import annotations

import io
import threading

from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_save
from django.test import override_settings
from wagtail.models import PageViewRestriction

from tests.helpers import publish
from tests.testapp.models import ArticlePage, Like
from wagtail_neural_feed import checks, feeds, signals
from wagtail_neural_feed.models import EmbeddingStatus, PageEmbedding
from wagtail_neural_feed.signals import disable_neural_feed_updates
from wagtail_neural_feed.sources import _m2m_changed, _through_model_changed

SOURCE_FEEDS = ["tests.feeds.M2MLikesFeed", "tests.feeds.ModelLikesFeed"]


def our_receivers(signal, sender) -> list:
    return [
        r for r in signal._live_receivers(sender)[0] if r in (_m2m_changed, _through_model_changed)
    ]


def test_site_likes_receivers_follow_only_the_models_feeds_name(settings):
    assert our_receivers(post_save, Like) == []
    with override_settings(
        WAGTAIL_NEURAL_FEED={**settings.WAGTAIL_NEURAL_FEED, "FEEDS": SOURCE_FEEDS}
    ):
        assert our_receivers(post_save, Like) == [_through_model_changed]
        assert our_receivers(m2m_changed, ArticlePage.likes.through) == [_m2m_changed]
        # Saving any other model reaches none of our receivers.
        assert our_receivers(post_save, Group) == []
    assert our_receivers(post_save, Like) == []
    assert our_receivers(m2m_changed, ArticlePage.likes.through) == []


def test_registry_is_resolved_once_and_reset_when_settings_change(settings):
    first = feeds.registered_feeds()
    assert feeds.registered_feeds() is first
    with override_settings(
        WAGTAIL_NEURAL_FEED={**settings.WAGTAIL_NEURAL_FEED, "FEEDS": ["tests.feeds.ArticlesFeed"]}
    ):
        changed = feeds.registered_feeds()
        assert changed is not first and "articles" in changed
    assert "articles" not in feeds.registered_feeds()


def test_registering_a_feed_resets_the_registry():
    class LateFeed(feeds.Feed):
        slug = "late-feed"

    assert "late-feed" not in feeds.registered_feeds()
    feeds.register_feed(LateFeed)
    try:
        assert feeds.registered_feeds()["late-feed"].slug == "late-feed"
    finally:
        feeds._registry.pop("late-feed")
        feeds.reset_feed_registry()


def test_updates_disabled_skip_publishing_and_the_embed_command_catches_up(make_article, home):
    from django.core.management import call_command

    page = make_article("Imported quietly", live=False)
    with disable_neural_feed_updates():
        publish(page)
        PageViewRestriction.objects.create(page=page, restriction_type="login")
    assert not PageEmbedding.objects.filter(page_id=page.pk).exists()

    kept = make_article("Published normally")
    with disable_neural_feed_updates():
        with_restriction = PageViewRestriction.objects.create(page=kept, restriction_type="login")
        kept.unpublish()
    row = PageEmbedding.objects.get(page_id=kept.pk)
    assert row.live and not row.view_restricted  # nothing followed the changes

    call_command("neural_feed_embed", stdout=io.StringIO())
    imported = PageEmbedding.objects.get(page_id=page.pk)
    assert imported.status == EmbeddingStatus.READY and imported.view_restricted
    row.refresh_from_db()
    assert not row.live and row.view_restricted
    with_restriction.delete()


def test_updates_are_disabled_only_in_the_thread_that_asked():
    seen = {}
    with disable_neural_feed_updates():
        thread = threading.Thread(target=lambda: seen.update(other=signals.updates_enabled()))
        thread.start()
        thread.join()
        seen["here"] = signals.updates_enabled()
    assert seen == {"other": True, "here": False}
    assert signals.updates_enabled()


def test_a_mistyped_setting_is_W003_naming_the_closest(settings):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "HNSW_EF_SERACH": 80}
    (warning,) = checks.check_setting_names()
    assert warning.id == "wagtail_neural_feed.W003"
    assert "HNSW_EF_SERACH" in warning.msg and "HNSW_EF_SEARCH" in warning.hint
    settings.WAGTAIL_NEURAL_FEED = {"ENCODER": settings.WAGTAIL_NEURAL_FEED["ENCODER"]}
    assert checks.check_setting_names() == []


def test_missing_private_lists_middleware_is_W004(settings):
    assert checks.check_private_lists_middleware() == []
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != checks.PRIVATE_LISTS_MIDDLEWARE]
    (warning,) = checks.check_private_lists_middleware()
    assert warning.id == "wagtail_neural_feed.W004"
