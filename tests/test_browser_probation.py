"""Visitor probation in a real browser: the first view is held until the visitor's next
beacon, which carries the cookie the first one set; then both are stored."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.helpers import wait_until
from tests.test_browser import article, browser, kinds  # noqa: F401  (fixtures)
from wagtail_neural_feed.models import Reader

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_browser_leaves_probation_at_its_second_beacon(live_server, browser, article, settings):  # noqa: F811
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "VISITOR_PROBATION_SECONDS": 600,
    }
    cache.clear()
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server.url + article.url)
    # The view beacon was answered (it set the visitor cookie) but stored nothing yet.
    assert wait_until(lambda: any(c["name"] == "nf_visitor" for c in context.cookies()))
    assert kinds() == [] and not Reader.objects.exists()
    page.click("#like")
    assert wait_until(lambda: kinds() == ["like", "view"]), kinds()
    assert Reader.objects.count() == 1
    context.close()
    cache.clear()
