"""Images of a rendered list: one query for the images, one for their renditions."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail_factories import ImageFactory

from tests.testapp.models import ArticlePage
from wagtail_neural_feed import rendering
from wagtail_neural_feed.lists import RecommendationList
from wagtail_neural_feed.rendering import IMAGE_FILTER, ListOptions, render_list


@pytest.fixture
def pictured(make_article, monkeypatch):
    """Three articles whose (stand-in) image field points at three images."""
    monkeypatch.setattr(rendering, "image_field", lambda model: SimpleNamespace(attname="cover_id"))
    pages = []
    for n in range(3):
        page = ArticlePage.objects.get(pk=make_article(f"Pictured {n}").pk)
        page.cover_id = ImageFactory(title=f"Cover {n}").pk
        pages.append(page)
    return pages


def test_the_image_include_renders_the_prefetched_filter():
    source = rendering.get_template(rendering.IMAGE_TEMPLATE).template.source
    assert f"{{% image image {IMAGE_FILTER} " in source


def test_renditions_come_with_the_images(pictured):
    options = ListOptions(layout="cards", show_image=True)
    render_list(RecommendationList(pages=pictured, feed="default", title="T"), options)
    with CaptureQueriesContext(connection) as queries:  # the renditions exist now
        html = render_list(RecommendationList(pages=pictured, feed="default", title="T"), options)
    assert html.count('class="neural-feed__image"') == 3
    assert html.count(".fill-480x270.") == 3
    assert len(queries) == 2  # the images, then their renditions of IMAGE_FILTER


def test_a_template_of_its_own_finds_renditions_the_usual_way(pictured, settings):
    """Another template may ask for any filter: no prefetch that would hide them."""
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "FEEDS": ["tests.feeds.NewsFeed"],
    }
    options = ListOptions(layout="cards", show_image=True)
    with CaptureQueriesContext(connection) as queries:
        html = render_list(RecommendationList(pages=pictured, feed="news", title="N"), options)
    assert '<aside class="news-feed"' in html
    prefetches = [
        q for q in queries if "wagtailimages_rendition" in q["sql"] and " IN (" in q["sql"]
    ]
    assert not prefetches
