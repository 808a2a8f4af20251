"""The admin in a real browser: sign in, create a feed in Settings, open the dashboard and
the preview. Screenshots go to docs/images/ (the README's pictures come from here)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tests.test_browser import browser  # noqa: F401  (the Chromium fixture)
from wagtail_neural_feed.models import (
    AdminFeed,
    EmbeddingStatus,
    Impression,
    Interaction,
    PageEmbedding,
    Reader,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"

TOPICS = [
    ("Summer jazz festival", "Saxophones, trumpets and a rainy summer jazz festival by the river"),
    ("Cells under the microscope", "Mitochondria, membranes and the cell cycle, seen up close"),
    ("A telescope for beginners", "Astronomy with small telescopes on dark winter nights"),
    ("Brass bands of the north", "Trumpets, cornets and the brass band tradition"),
    ("Gene editing explained", "How CRISPR cuts DNA, and what it means for medicine"),
    ("Meteor showers this year", "When and where to watch the Perseids and Geminids"),
]


@pytest.fixture
def site_with_activity(make_article, settings):
    settings.ALLOWED_HOSTS = ["*"]
    pages = [make_article(title, intro) for title, intro in TOPICS]
    PageEmbedding.objects.filter(page_id=pages[-1].pk).update(
        status=EmbeddingStatus.FAILED, error="EncoderError: model timed out", attempts=5
    )
    now = timezone.now()
    kinds = ["view", "view", "view", "like", "dwell", "share"]
    for n in range(24):
        reader = Reader.objects.create(visitor_id=uuid.uuid4())
        for i in range(1 + n % 4):
            Interaction.objects.create(
                reader=reader,
                page=pages[(n + i) % len(pages)],
                kind=kinds[(n * 3 + i) % len(kinds)],
                weight=1.0,
                created_at=now - timedelta(days=(n * 7 + i * 5) % 30, hours=i),
            )
    for n in range(40):  # lists the blocks showed, some followed
        shown = [pages[(n + k) % 5].pk for k in range(3)]
        Impression.objects.create(
            list_id=uuid.uuid4().hex,
            reader=Reader.objects.create(visitor_id=uuid.uuid4()),
            feed="default",
            page_ids=shown,
            shown_at=now - timedelta(days=n % 14, hours=1),
            clicked_page_ids=shown[:1] if n % 3 == 0 else [],
        )
    User.objects.create_superuser("siteadmin", "admin@example.com", "correct horse")
    return pages


def test_admin_creates_a_feed_and_opens_dashboard_and_preview(
    live_server,
    browser,  # noqa: F811
    site_with_activity,
):
    IMAGES.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "siteadmin")
    page.fill("#id_password", "correct horse")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    assert "pages embedded" in page.content()

    page.goto(f"{live_server.url}/admin/snippets/wagtail_neural_feed/adminfeed/add/")
    assert page.input_value("#id_site")  # the default site is preselected
    page.fill("#id_title", "Science desk")
    page.fill("#id_slug", "science-desk")
    page.check("input[name=page_types][value='testapp.ArticlePage']")
    page.fill("#id_freshness_weight", "0.4")
    page.select_option("#id_diversity", "mmr")
    page.locator("form button[type=submit]", has_text="Save").first.click()
    page.wait_for_url(f"{live_server.url}/admin/snippets/wagtail_neural_feed/adminfeed/")
    assert AdminFeed.objects.get(slug="science-desk").freshness_weight == 0.4
    assert "Feeds declared in code" in page.content()
    page.screenshot(path=str(IMAGES / "admin-feeds.png"), full_page=True)

    page.set_viewport_size({"width": 1280, "height": 2200})  # the whole dashboard
    page.goto(f"{live_server.url}/admin/neural-feed/")
    assert "5 of 6 pages embedded" in page.content()
    assert page.locator("svg polyline").count() >= 4  # interactions by kind + click-through
    assert "No lists shown yet" not in page.content()
    page.screenshot(path=str(IMAGES / "dashboard.png"), full_page=True)

    page.set_viewport_size({"width": 1280, "height": 1400})
    page.goto(f"{live_server.url}/admin/neural-feed/preview/")
    page.select_option("#id_feed", "science-desk")
    page.check("input[name=kind][value=interests]")
    page.fill("#id_interests", "trumpets and jazz")
    page.fill("#id_limit", "5")
    page.locator("button[type=submit]", has_text="Show the list").click()
    page.wait_for_selector("#nf-result")
    rows = page.locator("table.nf-parts tbody tr")
    assert rows.count() == 5
    first = rows.first.inner_text()
    assert "jazz" in first.lower() or "brass" in first.lower()
    page.screenshot(path=str(IMAGES / "preview.png"), full_page=True)
    assert not Reader.objects.filter(profiles__feed="science-desk").exists()
