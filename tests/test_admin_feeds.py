"""Admin feeds: the form's rules are FeedConfig's, the registry sees saves from any process,
and resolving an admin feed costs a list no query."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory, TestCase
from django.test.utils import CaptureQueriesContext
from wagtail.models import Site

from wagtail_neural_feed import admin_feeds, recommend
from wagtail_neural_feed.admin.forms import AdminFeedForm
from wagtail_neural_feed.admin_feeds import VERSION_KEY, site_settings
from wagtail_neural_feed.exceptions import NeuralFeedConfigurationError
from wagtail_neural_feed.feeds import DEFAULT_FEED_SLUG, FeedConfig, registered_feeds
from wagtail_neural_feed.models import AdminFeed, RecommendationSettings
from wagtail_neural_feed.tracking import tracking_allowed


def form_data(site, **overrides):
    data = {
        "site": site.pk,
        "title": "Science",
        "slug": "science",
        "page_types": ["testapp.ArticlePage"],
        "section": "",
        "similarity_weight": "1.0",
        "freshness_weight": "0.2",
        "popularity_weight": "0.1",
        "co_read_weight": "0",
        "freshness_half_life_days": "14",
        "diversity": "none",
        "mmr_lambda": "0.7",
        "section_cap": "3",
        "context_weight": "0.3",
        "cold_start": "context,popular,fresh",
        "exclude_read": "on",
        "parent": "",
    }
    data.update(overrides)
    return data


def make_feed(site, **values) -> AdminFeed:
    defaults = {"title": "Science", "slug": "science", "page_types": ["testapp.ArticlePage"]}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return AdminFeed.objects.create(site=site, **{**defaults, **values})


@pytest.fixture
def site(home):
    return Site.objects.get(is_default_site=True)


def test_to_config_is_the_feed_config_the_ranking_sees(site, section):
    feed = make_feed(
        site,
        section=section,
        diversity="mmr",
        mmr_lambda=0.5,
        cold_start="popular,fresh",
        parent=DEFAULT_FEED_SLUG,
    )
    config = feed.to_config()
    assert config == FeedConfig(
        slug="science",
        title="Science",
        page_types=("testapp.ArticlePage",),
        root_page_id=section.pk,
        diversity="mmr",
        mmr_lambda=0.5,
        cold_start=("popular", "fresh"),
        parent=DEFAULT_FEED_SLUG,
    )
    assert registered_feeds()["science"] == config


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("freshness_weight", "-1", "Must be a finite number >= 0, not -1.0."),
        ("co_read_weight", "-0.5", "Must be a finite number >= 0, not -0.5."),
        ("freshness_half_life_days", "0", "Must be a number of days > 0, not 0.0."),
        ("mmr_lambda", "1.5", "Must be between 0 and 1."),
        ("context_weight", "2", "Must be between 0 and 1."),
        ("section_cap", "0", "Must be at least 1."),
    ],
)
def test_form_reports_feed_config_problems_on_their_field(site, field, value, message):
    form = AdminFeedForm(data=form_data(site, **{field: value}))
    assert not form.is_valid()
    assert message in form.errors[field], form.errors


def test_form_uses_feed_config_itself(site, monkeypatch):
    """A rule added to FeedConfig reaches the admin form without touching the form."""
    original = FeedConfig.__post_init__

    def stricter(self):
        original(self)
        if self.freshness_half_life_days > 365:
            raise NeuralFeedConfigurationError(f"Feed {self.slug!r}: half-life at most a year.")

    monkeypatch.setattr(FeedConfig, "__post_init__", stricter)
    form = AdminFeedForm(data=form_data(site, freshness_half_life_days="400"))
    assert not form.is_valid()
    assert form.errors["freshness_half_life_days"] == ["Half-life at most a year."]


def test_the_co_read_weight_reaches_the_feed_config(site):
    form = AdminFeedForm(data=form_data(site, co_read_weight="0.6"))
    assert form.is_valid(), form.errors
    with TestCase.captureOnCommitCallbacks(execute=True):
        feed = form.save()
    assert feed.to_config().co_read_weight == 0.6
    assert make_feed(site, slug="plain", title="Plain").to_config().co_read_weight == 0.0


def test_weights_need_a_positive_sum(site):
    form = AdminFeedForm(
        data=form_data(site, similarity_weight="0", freshness_weight="0", popularity_weight="0")
    )
    assert not form.is_valid()
    assert "weights must be > 0" in form.non_field_errors()[0]


def test_slug_of_a_code_feed_is_refused(site):
    form = AdminFeedForm(data=form_data(site, slug=DEFAULT_FEED_SLUG))
    assert not form.is_valid()
    assert "declared in code" in str(form.errors["slug"])


def test_parent_cycles_and_sections_of_other_sites_are_refused(site, section, home):
    make_feed(site, slug="a", parent="b")
    make_feed(site, slug="b", title="B")
    form = AdminFeedForm(
        data=form_data(site, slug="b", parent="a"), instance=AdminFeed.objects.get(slug="b")
    )
    assert not form.is_valid()
    assert "its own parent" in str(form.errors["parent"])

    from tests.factories import HomePageFactory

    other_root = HomePageFactory(parent=home.get_parent(), title="Other", slug="other-home")
    other = Site.objects.create(hostname="other.test", root_page=other_root)
    form = AdminFeedForm(data=form_data(other, slug="c", section=section.pk))
    assert not form.is_valid()
    assert "not in the site" in str(form.errors["section"])


def test_page_type_choices_are_the_recommendable_types(site):
    form = AdminFeedForm(data=form_data(site))
    labels = {value for value, _ in form.fields["page_types"].choices}
    assert {"testapp.ArticlePage", "testapp.NewsPage"} <= labels
    assert "testapp.PlainPage" not in labels
    form = AdminFeedForm(data=form_data(site, page_types=["testapp.PlainPage"]))
    assert not form.is_valid()
    assert "page_types" in form.errors


def test_a_code_feed_wins_its_slug(site, caplog):
    AdminFeed.objects.create(site=site, title="Shadow", slug=DEFAULT_FEED_SLUG)
    assert registered_feeds()[DEFAULT_FEED_SLUG].title == "Recommended for you"
    assert "hidden by the code feed" in caplog.text


def test_a_save_in_another_process_is_seen_on_the_next_list(site):
    """Another process = a saved row this process was not told about, plus a new stamp."""
    saved = make_feed(site).freshness_weight
    assert registered_feeds()["science"].freshness_weight == saved
    AdminFeed.objects.filter(slug="science").update(freshness_weight=saved + 0.7)  # no signal
    assert registered_feeds()["science"].freshness_weight == saved  # stamp unchanged: cached
    cache.set(VERSION_KEY, "another process saved a feed")
    assert registered_feeds()["science"].freshness_weight == saved + 0.7


def test_save_and_delete_bump_the_stamp_after_commit(site):
    before = cache.get(VERSION_KEY)
    assert registered_feeds() and cache.get(VERSION_KEY) == before  # reading writes nothing
    feed = make_feed(site)
    after_save = cache.get(VERSION_KEY)
    assert after_save not in (None, before)
    with TestCase.captureOnCommitCallbacks(execute=True):
        feed.delete()
    assert cache.get(VERSION_KEY) != after_save
    assert "science" not in registered_feeds()


def test_resolving_an_admin_feed_adds_no_query_to_a_list(
    site, make_article, django_assert_num_queries
):
    make_article("Cells", "Biology of cells")
    make_article("Stars", "Astronomy of stars")
    make_feed(site, slug="admin-twin", page_types=[])
    registered_feeds()  # the steady state: resolved once, after the save

    def queries(feed):
        recommend(None, feed=feed, limit=5)  # warm (prepared statements, content types)
        with CaptureQueriesContext(connection) as captured:
            pages = recommend(None, feed=feed, limit=5)
        assert pages
        return len(captured)

    code_queries = queries(DEFAULT_FEED_SLUG)
    assert queries("admin-twin") == code_queries


def test_site_setting_turns_tracking_off(site):
    request = RequestFactory().get("/", HTTP_HOST="localhost")
    assert tracking_allowed(request)
    with TestCase.captureOnCommitCallbacks(execute=True):
        RecommendationSettings.objects.create(
            site=site, tracking_enabled=False, default_feed="science"
        )
    assert not tracking_allowed(request)
    assert site_settings(site.pk).default_feed == "science"
    other = RequestFactory().get("/", HTTP_HOST="elsewhere.test")
    other_site = Site.objects.create(hostname="elsewhere.test", root_page=site.root_page)
    assert tracking_allowed(other) and site_settings(other_site.pk).tracking_enabled


def test_tracking_check_needs_no_query_while_every_site_tracks(site, django_assert_num_queries):
    request = RequestFactory().get("/", HTTP_HOST="localhost")
    tracking_allowed(request)
    with django_assert_num_queries(0):
        assert tracking_allowed(request)


def test_deleting_a_feeds_section_refreshes_the_registry(site, section):
    make_feed(site, section=section)
    assert registered_feeds()["science"].root_page_id == section.pk
    with TestCase.captureOnCommitCallbacks(execute=True):
        section.delete()
    assert registered_feeds()["science"].root_page_id is None


def test_an_edited_feed_misses_the_rendered_list_cache(site, make_article, settings):
    """Rendered lists are cached per feed; an edit must not wait for the cache to expire."""
    from wagtail_neural_feed.lists import recommendation_list

    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "LIST_CACHE_SECONDS": 60}
    make_article("Cells", "Biology of cells")
    make_article("Stars", "Astronomy of stars")
    # Freshness not alone (weight 0.5, similarity 1): a score that is not its freshness.
    feed = make_feed(site, page_types=[], freshness_weight=0.5)
    request = RequestFactory().get("/", HTTP_HOST="localhost")
    before = recommendation_list(request, feed="science", limit=2)
    assert any(
        p.recommendation.score != pytest.approx(p.recommendation.freshness, abs=1e-6)
        for p in before.pages
    )
    feed.similarity_weight, feed.freshness_weight, feed.popularity_weight = 0, 1, 0
    with TestCase.captureOnCommitCallbacks(execute=True):
        feed.save()
    after = recommendation_list(request, feed="science", limit=2)
    assert all(
        p.recommendation.score == pytest.approx(p.recommendation.freshness, abs=1e-6)
        for p in after.pages
    )


def test_a_cache_that_keeps_nothing_rereads_feeds_once_a_second(site, settings, monkeypatch):
    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(admin_feeds, "time", SimpleNamespace(monotonic=lambda: clock.now))
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    admin_feeds.assume_no_admin_data()
    AdminFeed.objects.bulk_create([AdminFeed(site=site, title="Quiet", slug="quiet")])  # no signal
    assert "quiet" not in registered_feeds()  # the same second: the copy is kept
    clock.now += 1
    assert "quiet" in registered_feeds()


def test_lists_that_name_no_feed_use_the_sites_default_feed(site):
    from wagtail_neural_feed.lists import recommendation_list

    request = RequestFactory().get("/", HTTP_HOST="localhost")
    assert recommendation_list(request).feed == DEFAULT_FEED_SLUG
    make_feed(site, slug="science", title="Science for you")
    with TestCase.captureOnCommitCallbacks(execute=True):
        RecommendationSettings.objects.create(site=site, default_feed="science")
    shown = recommendation_list(request)
    assert (shown.feed, shown.title) == ("science", "Science for you")
    assert recommendation_list(request, feed=DEFAULT_FEED_SLUG).feed == DEFAULT_FEED_SLUG
    assert recommendation_list(None).feed == DEFAULT_FEED_SLUG  # no request, no site
    with TestCase.captureOnCommitCallbacks(execute=True):
        AdminFeed.objects.filter(slug="science").delete()
    assert recommendation_list(request).feed == DEFAULT_FEED_SLUG  # a deleted feed


def test_one_block_reads_the_feed_version_once(site, monkeypatch):
    reads = []
    real = admin_feeds._shared_version
    monkeypatch.setattr(admin_feeds, "_shared_version", lambda: reads.append(1) or real())
    with admin_feeds.one_version_read():
        registered_feeds()
        site_settings(site.pk)
        with admin_feeds.one_version_read():  # nested: still the outer block's read
            registered_feeds()
        assert len(reads) == 1
        with TestCase.captureOnCommitCallbacks(execute=True):
            admin_feeds.feeds_changed()  # a change in this block: compared again
        registered_feeds()
        assert len(reads) == 2
    registered_feeds()
    registered_feeds()
    assert len(reads) == 4  # outside a block, every ask compares


def test_an_api_request_reads_the_feed_version_once(site, client, monkeypatch):
    reads = []
    real = admin_feeds._shared_version
    monkeypatch.setattr(admin_feeds, "_shared_version", lambda: reads.append(1) or real())
    assert client.get("/neural-feed/recommendations/", HTTP_HOST="localhost").status_code == 200
    assert len(reads) == 1
