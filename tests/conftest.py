"""Shared fixtures: a site tree, page helpers, and switches for the real model."""

from __future__ import annotations

import pytest
from django.test import override_settings
from wagtail.models import Locale, Page, Site

from tests.factories import ArticlePageFactory, HomePageFactory, SectionPageFactory
from tests.helpers import publish
from wagtail_neural_feed.dispatch import wait_for_jobs


@pytest.fixture(autouse=True)
def _no_admin_feeds_yet():
    """Every test starts from a database without admin feeds (what one saves is rolled
    back with it): the registry starts from that too, without a query."""
    from wagtail_neural_feed.admin_feeds import assume_no_admin_data

    assume_no_admin_data()
    yield
    assume_no_admin_data()


@pytest.fixture
def home(db) -> Page:
    root = Page.get_first_root_node()
    if root is None:  # a transactional test flushed Wagtail's initial data
        Locale.objects.get_or_create(language_code="en")
        root = Page.add_root(instance=Page(title="Root", slug="root"))
    home = HomePageFactory(parent=root, title="Home", slug="home-test")
    Site.objects.update_or_create(
        is_default_site=True, defaults={"root_page": home, "hostname": "localhost"}
    )
    return home


@pytest.fixture
def section(home) -> Page:
    return SectionPageFactory(parent=home, title="Science", slug="science")


@pytest.fixture
def make_article(home):
    """Create an ArticlePage under ``parent`` (default: home) and publish it."""

    def make(title: str, intro: str = "", *, parent: Page | None = None, live: bool = True, **kw):
        page = ArticlePageFactory.build(title=title, intro=intro, live=False, **kw)
        (parent or home).add_child(instance=page)
        if live:
            publish(page)
        return page

    return make


REAL_MODEL = {
    "ENCODER": "wagtail_neural_feed.encoders.SentenceTransformerEncoder",
    "DIMENSIONS": 384,
    "DISPATCH": "inline",
}


@pytest.fixture
def real_model(settings):
    """Use the real all-MiniLM-L6-v2 encoder (loaded once per process)."""
    with override_settings(WAGTAIL_NEURAL_FEED=REAL_MODEL):
        yield


@pytest.fixture
def wait_for_background():
    def wait(timeout: float = 30.0) -> None:
        assert wait_for_jobs(timeout), "background jobs did not finish"

    return wait
