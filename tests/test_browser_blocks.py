"""The blocks' default templates in a real browser: the tracker reports the impression of
each rendered list and the click, exactly as the server rendered them. Screenshots of the
list and card layouts (with the package's CSS) go to .artifacts/."""

from __future__ import annotations

import json

import pytest

from tests.helpers import wait_until
from tests.test_browser_lists import browser, screenshot  # noqa: F401  (fixture)
from wagtail_neural_feed.models import Impression

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def host(make_article, settings):
    settings.ALLOWED_HOSTS = ["*"]
    for i in range(6):
        make_article(f"Glacier story {i}", f"<p>Ice, meltwater and valleys, part {i}.</p>")
    blocks = [
        {"type": "recommended", "value": {"count": 4, "layout": "cards", "show_image": False}},
        {"type": "similar", "value": {"count": 3, "layout": "list"}},
    ]
    return make_article("Glaciers", "<p>A story about glaciers.</p>", related=json.dumps(blocks))


def shown_in(section) -> list[int]:
    links = section.locator("a[data-neural-feed-page]")
    return [int(v) for v in links.evaluate_all("l => l.map(a => a.dataset.neuralFeedPage)")]


def test_block_lists_report_their_impressions_and_the_click(live_server, browser, host):  # noqa: F811
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    # A returning visitor: the cookie comes from an earlier page view. (On a first
    # visit the beacons of two lists race to create the visitor, a tracking issue of its own.)
    page.goto(f"{live_server.url}{host.get_parent().url}glacier-story-0/")
    assert wait_until(lambda: any(c["name"] == "nf_visitor" for c in page.context.cookies()))
    page.goto(f"{live_server.url}{host.url}")
    cards = page.locator("section.neural-feed--cards")
    similar = page.locator("section.neural-feed--list")
    recommended_ids, similar_ids = shown_in(cards), shown_in(similar)
    assert len(recommended_ids) == 4 and len(similar_ids) == 3
    assert host.pk not in recommended_ids + similar_ids
    cards.scroll_into_view_if_needed()
    similar.scroll_into_view_if_needed()
    assert wait_until(lambda: Impression.objects.count() == 2)
    screenshot(cards, "block-cards")
    screenshot(similar, "block-list")
    rows = {row.feed: row for row in Impression.objects.all()}
    assert rows["default"].page_ids == recommended_ids
    assert rows["similar"].page_ids == similar_ids
    assert {row.context_page_id for row in rows.values()} == {host.pk}
    page.click(f"section.neural-feed--cards a[data-neural-feed-page='{recommended_ids[2]}']")
    page.wait_for_load_state()
    assert wait_until(
        lambda: Impression.objects.get(feed="default").clicked_page_ids == [recommended_ids[2]]
    )
    assert Impression.objects.get(feed="similar").clicked_page_ids == []
    assert Impression.objects.values("reader").distinct().count() == 1
