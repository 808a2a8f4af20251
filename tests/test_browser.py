"""The tracker script in a real browser (Debian's Chromium driven by Playwright):
views, reading time and likes reach the database; Do Not Track sends nothing."""

from __future__ import annotations

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

from tests.helpers import wait_until
from wagtail_neural_feed.models import Interaction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls
    # the test makes meanwhile are ordinary blocking calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()
        # Queries made between Playwright calls run in Playwright's context, with
        # their own database connection; close it here, still in that context,
        # or it outlives the test and blocks dropping the test database.
        connections.close_all()


@pytest.fixture
def article(make_article, settings):
    settings.ALLOWED_HOSTS = ["*"]
    return make_article("Read in a browser", "<p>Some text.</p>")


def kinds() -> list[str]:
    return sorted(Interaction.objects.values_list("kind", flat=True))


def test_views_dwell_and_likes_arrive_from_the_browser(live_server, browser, article):
    page = browser.new_page()
    page.goto(live_server.url + article.url)
    assert wait_until(lambda: kinds() == ["view"]), kinds()
    page.click("#like")
    assert wait_until(lambda: kinds() == ["like", "view"]), kinds()
    page.wait_for_timeout(5500)  # read for a while, then leave
    page.goto("about:blank")
    assert wait_until(lambda: "dwell" in kinds()), kinds()
    dwell = Interaction.objects.get(kind="dwell")
    assert 5 <= dwell.value < 60
    # One visitor, recognised by its cookie across the three beacons.
    assert len({i.reader_id for i in Interaction.objects.all()}) == 1


def test_do_not_track_in_the_browser_sends_nothing(live_server, browser, article):
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'});")
    page = context.new_page()
    page.goto(live_server.url + article.url)
    page.click("#like")
    page.wait_for_timeout(1500)
    page.goto("about:blank")
    page.wait_for_timeout(500)
    assert kinds() == []
    context.close()
