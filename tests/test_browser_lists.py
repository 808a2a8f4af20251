"""Rendered lists in a real browser (Debian's Chromium driven by Playwright): an impression
when the list scrolls into view, a click when a recommendation is followed, placeholders
filled from the JSON API; with Do Not Track nothing is stored. Screenshots go to .artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections
from playwright.sync_api import sync_playwright

from tests.helpers import wait_until
from wagtail_neural_feed.models import Impression, Reader

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(django_settings.BASE_DIR) / ".artifacts"


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()
        connections.close_all()  # see test_browser.py


@pytest.fixture
def story(make_article, settings):
    settings.ALLOWED_HOSTS = ["*"]
    for i in range(5):
        make_article(f"Related story {i}", f"<p>More about rivers, part {i}.</p>")
    return make_article("Rivers", "<p>A story about rivers.</p>")


def screenshot(locator, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def rendered_ids(page) -> list[int]:
    links = page.locator("[data-neural-feed-list] a[data-neural-feed-page]")
    return [int(value) for value in links.evaluate_all("l => l.map(a => a.dataset.neuralFeedPage)")]


def test_impression_when_scrolled_into_view_then_the_click(live_server, browser, story):
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(f"{live_server.url}/test-lists/{story.pk}/")
    shown = rendered_ids(page)
    assert len(shown) == 4 and story.pk not in shown
    page.wait_for_timeout(800)
    assert not Impression.objects.exists()  # the list is below the fold
    section = page.locator("[data-neural-feed-list]")
    section.scroll_into_view_if_needed()
    assert wait_until(lambda: Impression.objects.exists())
    screenshot(section, "rendered-list")
    row = Impression.objects.get()
    assert row.page_ids == shown and row.context_page_id == story.pk and row.feed == "default"
    assert row.clicked_page_ids == []
    target = shown[1]
    page.click(f"a[data-neural-feed-page='{target}']")
    page.wait_for_load_state()
    assert wait_until(lambda: Impression.objects.get().clicked_page_ids == [target])
    assert Impression.objects.count() == 1
    # The same visitor: the impression's reader is the one the cookie names.
    cookie = next(c for c in page.context.cookies() if c["name"] == "nf_visitor")
    assert str(Impression.objects.get().reader.visitor_id) == cookie["value"]


def test_client_side_placeholder_is_filled_and_reports_its_impression(live_server, browser, story):
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(f"{live_server.url}/test-lists/{story.pk}/?client")
    page.wait_for_selector(
        "[data-neural-feed-placeholder] [data-neural-feed-list]", state="attached"
    )
    section = page.locator("[data-neural-feed-placeholder] section")
    assert section.get_attribute("aria-labelledby")
    assert page.locator(f"#{section.get_attribute('aria-labelledby')}").inner_text()
    shown = rendered_ids(page)
    assert len(shown) == 3 and story.pk not in shown
    section.scroll_into_view_if_needed()
    assert wait_until(lambda: Impression.objects.exists())
    screenshot(section, "placeholder-cards")
    assert Impression.objects.get().page_ids == shown
    page.click(f"a[data-neural-feed-page='{shown[0]}']")
    assert wait_until(lambda: Impression.objects.get().clicked_page_ids == [shown[0]])


def test_do_not_track_stores_no_impression_or_click(live_server, browser, story):
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'});")
    page = context.new_page()
    page.goto(f"{live_server.url}/test-lists/{story.pk}/?client")
    # Filling a placeholder needs no consent; only the beacons are held back.
    page.wait_for_selector(
        "[data-neural-feed-placeholder] [data-neural-feed-list]", state="attached"
    )
    page.locator("[data-neural-feed-list]").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    target = rendered_ids(page)[0]
    page.click(f"a[data-neural-feed-page='{target}']")
    page.wait_for_load_state()
    page.wait_for_timeout(1000)
    assert not Impression.objects.exists() and not Reader.objects.exists()
    context.close()


def test_a_first_visit_with_a_list_in_view_is_one_reader(live_server, browser, story, settings):
    """The view, the impression and the click of a first visit land on one visitor, on
    probation too: later beacons wait for the first one's answer and its cookie."""
    from django.core.cache import cache

    from wagtail_neural_feed.models import Interaction

    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "VISITOR_PROBATION_SECONDS": 600,
    }
    cache.clear()
    context = browser.new_context(viewport={"width": 1000, "height": 3200})  # list in view
    page = context.new_page()
    page.goto(f"{live_server.url}/test-lists/{story.pk}/")
    assert wait_until(lambda: Impression.objects.exists())
    target = rendered_ids(page)[0]
    page.click(f"a[data-neural-feed-page='{target}']")
    assert wait_until(lambda: Impression.objects.get().clicked_page_ids == [target])
    assert Reader.objects.count() == 1
    reader = Reader.objects.get()
    assert Impression.objects.get().reader == reader
    # The first visit's view (held on probation, then stored) is the same reader's.
    assert Interaction.objects.filter(kind="view", page_id=story.pk, reader=reader).exists()
    assert set(Interaction.objects.values_list("reader", flat=True)) == {reader.pk}
    context.close()
    cache.clear()
