"""Per-process answers the JSON API reuses: the request's site and page URLs.

Both replace a query or a URL reversal per request (the profile of a list
request, benchmarks/README.md); these tests pin that they answer exactly what
Wagtail would, and notice changes.
"""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from wagtail.models import Page, Site

from tests.helpers import publish
from wagtail_neural_feed.api_views import page_url
from wagtail_neural_feed.sites import site_for_request


def request_for(host: str):
    return RequestFactory().get("/", HTTP_HOST=host)


@pytest.fixture
def second_site(home):
    from tests.factories import HomePageFactory

    other = HomePageFactory(parent=Page.get_first_root_node(), title="Other", slug="other")
    return Site.objects.create(hostname="other.example", root_page=other)


def test_site_is_wagtails_answer_and_read_once(home, second_site, django_assert_num_queries):
    for host in ("other.example", "localhost", "unknown.example"):
        expected = Site.find_for_request(request_for(host))
        assert site_for_request(request_for(host)) == expected
    with django_assert_num_queries(0):
        assert site_for_request(request_for("other.example")) == second_site


def test_a_saved_site_is_read_again(home, second_site, django_capture_on_commit_callbacks):
    assert site_for_request(request_for("other.example")) == second_site
    with django_capture_on_commit_callbacks(execute=True):
        second_site.hostname = "renamed.example"
        second_site.save()
    assert site_for_request(request_for("other.example")) != second_site  # the default site now
    assert site_for_request(request_for("renamed.example")) == second_site


def test_a_deleted_site_is_forgotten(home, second_site, django_capture_on_commit_callbacks):
    assert site_for_request(request_for("other.example")) == second_site
    with django_capture_on_commit_callbacks(execute=True):
        second_site.delete()
    assert site_for_request(request_for("other.example")).hostname == "localhost"


def test_page_url_is_wagtails_and_follows_a_new_slug(make_article, section):
    page = make_article("Moving story", "<p>words</p>", parent=section)
    request = request_for("localhost")
    site_for_request(request)
    assert page_url(page, request) == page.get_full_url(request)
    page.slug = "renamed-story"
    publish(page)
    page = Page.objects.get(pk=page.pk).specific
    request = request_for("localhost")
    site_for_request(request)
    assert page_url(page, request) == page.get_full_url(request)
    assert page_url(page, request).endswith("/science/renamed-story/")


def test_page_url_prefers_the_requests_site(home, second_site, make_article):
    """Requests on two hosts each get Wagtail's answer (the request's site is in the key)."""
    page = make_article("Story", "<p>words</p>")
    here, there = request_for("localhost"), request_for("other.example")
    for request in (here, there):
        site_for_request(request)
        assert page_url(page, request) == page.get_full_url(request)


def test_page_types_that_route_themselves_are_asked_each_time(make_article, monkeypatch):
    page = make_article("Story", "<p>words</p>")
    request = request_for("localhost")
    site_for_request(request)
    assert page_url(page, request) == page.get_full_url(request)
    urls = iter(["http://localhost/first/", "http://localhost/second/"])
    monkeypatch.setattr(type(page), "get_full_url", lambda self, request=None: next(urls))
    assert page_url(page, request) == "http://localhost/first/"
    assert page_url(page, request) == "http://localhost/second/"
