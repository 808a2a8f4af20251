"""Lists compute their links for all pages at once: always ``{% pageurl %}``'s answer."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, TestCase, override_settings
from django.utils import translation
from wagtail.models import Locale, Page, Site
from wagtail.models import pages as wagtail_pages

from tests.factories import HomePageFactory
from tests.testapp.models import ArticlePage
from wagtail_neural_feed import page_urls as urls_module
from wagtail_neural_feed.page_urls import page_urls


def request_for(site: Site):
    request = RequestFactory().get("/", HTTP_HOST=site.hostname)
    request._wagtail_site = site
    return request


def wagtails(pages, request):
    return [page.get_url(request=request) for page in pages]


@pytest.fixture
def world(home, make_article):
    """Pages on two sites, deep and shallow, one with a non-ASCII slug, one in no site."""
    other_home = HomePageFactory(parent=Page.get_first_root_node(), title="Other", slug="other")
    other = Site.objects.create(hostname="other.example", port=8080, root_page=other_home)
    nowhere = HomePageFactory(parent=Page.get_first_root_node(), title="Nowhere", slug="nowhere")
    shallow = make_article("Shallow")
    deep = make_article("Deep", parent=make_article("Parent"))
    unicode = make_article("Café", slug="café-crème")
    remote = make_article("Remote", parent=other_home)
    orphan = make_article("Orphan", parent=nowhere)
    pages = [ArticlePage.objects.get(pk=p.pk) for p in (shallow, deep, unicode, remote, orphan)]
    return {"site": Site.objects.get(is_default_site=True), "other": other, "pages": pages}


def test_the_same_links_as_pageurl_with_and_without_a_request(world):
    pages = world["pages"]
    for request in (request_for(world["site"]), request_for(world["other"]), None):
        assert page_urls(pages, request) == wagtails(pages, request)
    ours = page_urls(pages, request_for(world["site"]))
    assert ours[0].startswith("/") and ours[1].endswith("/parent/deep/")
    assert "caf%C3%A9-cr%C3%A8me" in ours[2]
    assert ours[3] == "http://other.example:8080/remote/"
    assert ours[4] is None  # in no site: not routable


def test_without_an_appended_slash(world, monkeypatch):
    # Wagtail reads WAGTAIL_APPEND_SLASH once, at import: as a site setting it would.
    monkeypatch.setattr(wagtail_pages, "WAGTAIL_APPEND_SLASH", False)
    request = request_for(world["site"])
    assert page_urls(world["pages"], request) == wagtails(world["pages"], request)
    assert not page_urls(world["pages"], request)[0].endswith("/")


def test_language_prefixes_and_translated_trees(world, settings):
    """With i18n_patterns each site root's translation links under its language."""
    french = Locale.objects.get_or_create(language_code="fr")[0]
    source = world["pages"][1]
    copy = source.copy_for_translation(french, copy_parents=True)
    with TestCase.captureOnCommitCallbacks(execute=True):
        copy.save_revision().publish()
    pages = [*world["pages"], ArticlePage.objects.get(pk=copy.pk)]
    with override_settings(ROOT_URLCONF="tests.urls_i18n"):
        for language in ("en", "fr"):
            with translation.override(language):
                request = request_for(world["site"])
                assert page_urls(pages, request) == wagtails(pages, request)
        with translation.override("en"):
            ours = page_urls(pages, request_for(world["site"]))
    assert ours[0].startswith("/en/") and ours[-1].startswith("/fr/")


def test_a_page_type_with_its_own_urls_is_asked(world, monkeypatch):
    def get_url_parts(self, request=None):
        return (world["site"].pk, "http://localhost", f"/custom/{self.pk}/")

    monkeypatch.setattr(ArticlePage, "get_url_parts", get_url_parts)
    urls_module._default_urls.cache_clear()
    try:
        request = request_for(world["site"])
        assert page_urls(world["pages"], request) == [
            f"/custom/{page.pk}/" for page in world["pages"]
        ]
    finally:
        urls_module._default_urls.cache_clear()


def test_a_serve_view_under_another_name_is_left_to_wagtail(world, settings):
    """No ``wagtail_serve`` route (a headless site): Wagtail's answer, None."""
    settings.ROOT_URLCONF = "tests.urls_headless"
    request = request_for(world["site"])
    assert page_urls(world["pages"], request) == wagtails(world["pages"], request)
