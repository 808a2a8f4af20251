"""A reader in Chromium on the demo (real model): liking one section makes the home page theirs.

Also saves the README's screenshots to docs/images/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.demo_process import Demo, demo_env
from tests.helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.real_model]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "images"
#: The section this reader takes to (the README's captions name it).
TARGET = "music"
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The README's demo command on a fresh database, with the real all-MiniLM-L6-v2."""
    folder = tmp_path_factory.mktemp("browser-demo")
    demo = Demo(demo_env(folder, encoder=None), folder / "demo.log")
    try:
        demo.start(timeout=900)
        yield demo
    finally:
        demo.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


def recommended_sections(page) -> list[str]:
    """The section of each card in the home page's "Recommended for you" list."""
    return page.eval_on_selector_all(
        'section[data-feed="for-you"] .card', "cards => cards.map(card => card.dataset.section)"
    )


def test_liking_one_section_fills_recommended_for_you(demo, browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(demo.url + "/")
    before = recommended_sections(page)
    assert len(before) >= 4
    target = TARGET
    assert before.count(target) <= len(before) // 2  # not what a new reader is shown
    page.screenshot(path=SCREENSHOTS / "demo-home-before.png")

    page.goto(f"{demo.url}/{target}/")
    articles = page.eval_on_selector_all(
        ".latest .card__link", "links => links.map(link => link.getAttribute('href'))"
    )[:4]
    for number, href in enumerate(articles):
        page.goto(demo.url + href)
        page.click("#like")
        expect(page.locator(".reaction-status")).to_contain_text("Thanks")
        if number == 0:
            # The first beacon's answer carries the visitor cookie that ties the rest together.
            assert wait_until(lambda: "nf_visitor" in {c["name"] for c in context.cookies()})
            page.evaluate("window.scrollTo(0, 0)")  # the sticky header back at the top
            page.screenshot(path=SCREENSHOTS / "demo-article.png", full_page=True)

    def personal() -> bool:
        page.goto(demo.url + "/")
        after = recommended_sections(page)
        return after.count(target) > len(after) / 2

    # Profiles are updated in the demo's background thread: reload until it shows.
    assert wait_until(personal, timeout=120), (target, recommended_sections(page))
    page.screenshot(path=SCREENSHOTS / "demo-home-after.png")
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(demo.url + "/")
    phone.screenshot(path=SCREENSHOTS / "demo-phone.png")
    context.close()


def test_staff_see_why_a_page_was_recommended(demo, browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(demo.url + "/admin/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(demo.url + "/")
    why = page.locator('section[data-feed="for-you"] .why').first
    why.hover()
    tip = why.locator(".why__tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("similarity")
    expect(tip).to_contain_text("freshness")
    expect(tip).to_contain_text("popularity")
    page.screenshot(path=SCREENSHOTS / "demo-why-this.png")
    context.close()


def test_the_admin_of_the_demo(demo, browser):
    """The README's admin screenshots, from the demo's own data: the editor's block on the
    home page, the feeds kept in Wagtail settings, and the dashboard."""
    from tests.demo_process import manage

    home_id = (
        manage(
            "shell",
            "-c",
            "from blog.models import HomePage; print(HomePage.objects.get().pk)",
            env=demo.env,
        )
        .strip()
        .splitlines()[-1]
    )
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(demo.url + "/admin/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto(f"{demo.url}/admin/pages/{home_id}/edit/")
    block = page.get_by_text("Editors' picks, in your order").first
    expect(block).to_be_attached()
    block.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "demo-editor-block.png")

    page.goto(demo.url + "/admin/snippets/wagtail_neural_feed/adminfeed/")
    for title in ("Recommended for you", "Popular now", "For you in Music"):
        expect(page.get_by_text(title).first).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "demo-feeds.png", full_page=True)

    page.goto(demo.url + "/admin/neural-feed/")
    expect(page.get_by_text("152 of 152 pages embedded").first).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "demo-dashboard.png", full_page=True)

    # The block renders on the home page for readers, picks included.
    page.goto(demo.url + "/")
    expect(page.get_by_text("Editors' picks, in your order")).to_be_visible()
    context.close()
