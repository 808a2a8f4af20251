"""The dashboard's evaluation and tuning panels in a real browser: a real evaluation and two
real self-tuning runs (one kept, one applied), then the Revert button clicked (a real form
POST with its CSRF token). The screenshot is docs/images/dashboard-tuning.png."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from wagtail.models import Site

from tests.factories import SectionPageFactory
from tests.test_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.test_tuning_changes import AUTOTUNE, TUNING, recency_world
from wagtail_neural_feed.autotune import run_autotune
from wagtail_neural_feed.models import AdminFeed, TuningChange

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def test_the_dashboard_shows_evaluations_and_reverts_a_tuned_setting(
    live_server,
    browser,  # noqa: F811
    home,
    settings,
):
    settings.ALLOWED_HOSTS = ["*"]
    settings.WAGTAIL_NEURAL_FEED = {**TUNING, "AUTOTUNE": {**AUTOTUNE, "MARGIN": 0.005}}
    section = SectionPageFactory(parent=home, title="News", slug="news")
    site = Site.objects.get(is_default_site=True)
    feed = AdminFeed.objects.create(site=site, title="News", slug="news", section=section)
    recency_world(section)
    for slug in ("default", "news"):
        call_command("neural_feed_evaluate", "--feed", slug, stdout=StringIO())
    [first] = run_autotune()
    assert first["outcome"] == "applied"
    [second] = run_autotune()  # from the new setting: kept, or a further gain applied
    assert second["outcome"] in ("kept", "applied")
    applied = TuningChange.objects.filter(outcome="applied").first()  # the latest
    feed.refresh_from_db()
    assert feed.freshness_weight == applied.after["freshness_weight"]
    User.objects.create_superuser("siteadmin", "admin@example.com", "correct horse")

    page = browser.new_page(viewport={"width": 1280, "height": 3200})  # the whole dashboard
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "siteadmin")
    page.fill("#id_password", "correct horse")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/neural-feed/")  # unscrolled: box = page coordinates
    evaluation = page.locator("section[aria-labelledby=nf-evaluation]")
    assert "most recent" in evaluation.inner_text()
    assert evaluation.locator("tbody tr").count() == 2
    tuning = page.locator("section[aria-labelledby=nf-tuning]")
    assert "Self-tuning is on" in tuning.inner_text()
    assert tuning.locator("button", has_text="Revert").count() == 1  # the change in place
    IMAGES.mkdir(parents=True, exist_ok=True)
    panels = page.locator(
        "section[aria-labelledby=nf-evaluation], section[aria-labelledby=nf-tuning]"
    )
    box_top = panels.first.bounding_box()
    box_bottom = panels.last.bounding_box()
    page.screenshot(
        path=str(IMAGES / "dashboard-tuning.png"),
        clip={
            "x": box_top["x"] - 16,
            "y": box_top["y"] - 16,
            "width": box_top["width"] + 32,
            "height": box_bottom["y"] + box_bottom["height"] - box_top["y"] + 32,
        },
    )

    tuning.locator("button", has_text="Revert").click()
    page.wait_for_selector("text=is back to its setting before this change")
    feed.refresh_from_db()
    assert feed.freshness_weight == applied.before["freshness_weight"]
    applied.refresh_from_db()
    assert applied.reverted_by.username == "siteadmin"
    assert "Reverted" in page.locator("section[aria-labelledby=nf-tuning]").inner_text()
