"""The demo's feeds, kept in Wagtail settings (Settings → Recommendations), so the admin
shows real examples a site admin can tune; the page templates name them by slug."""

from __future__ import annotations

from wagtail.models import Site

from wagtail_neural_feed.feeds import DEFAULT_FEED_SLUG
from wagtail_neural_feed.models.admin_feeds import AdminFeed, RecommendationSettings

from .models import ArticlePage, HomePage, SectionPage
from .recommendations import FOR_YOU, POPULAR, section_slug


def feed_values(site: Site) -> list[dict]:
    """The demo's feeds: site-wide, popular, and one per section."""
    feeds = [
        {
            "slug": FOR_YOU,
            "title": "Recommended for you",
            "parent": DEFAULT_FEED_SLUG,
        },
        {
            "slug": POPULAR,
            "title": "Popular now",
            "similarity_weight": 0.0,
            "freshness_weight": 0.15,
            "popularity_weight": 1.0,
            "exclude_read": False,
            "cold_start": "popular,fresh",
        },
    ]
    for section in SectionPage.objects.descendant_of(site.root_page).order_by("title"):
        feeds.append(
            {
                "slug": section_slug(section),
                "title": f"For you in {section.title}",
                "section": section,
                # The site-wide profile serves a section until it has one of its own.
                "parent": DEFAULT_FEED_SLUG,
                "cold_start": "popular,fresh",
            }
        )
    return feeds


def ensure_feeds(site: Site | None = None) -> int:
    """Create the demo's feeds that are missing (an admin's edits are kept); returns how many."""
    site = site or Site.objects.get(is_default_site=True)
    created = 0
    for values in feed_values(site):
        slug = values.pop("slug")
        _, made = AdminFeed.objects.get_or_create(slug=slug, defaults={"site": site, **values})
        created += made
    settings = RecommendationSettings.for_site(site)
    if not settings.default_feed:
        settings.default_feed = FOR_YOU
        settings.save()
    return created


def ensure_editors_block(site: Site | None = None) -> bool:
    """Put an editor's "Recommended for you" block with picks on the home page, once:
    the demo's example of the StreamField block (the lists above it come from the template).
    Returns whether it was added."""
    site = site or Site.objects.get(is_default_site=True)
    home = HomePage.objects.filter(pk=site.root_page_id).first()
    if home is None or len(home.body):
        return False
    picks = [
        ArticlePage.objects.live().descendant_of(section).order_by("-first_published_at").first()
        for section in SectionPage.objects.child_of(home).order_by("title")[:2]
    ]
    home.body = [
        (
            "recommended_pages",
            {
                "heading": "Editors' picks, in your order",
                "feed": FOR_YOU,
                "count": 4,
                "layout": "list",
                "show_summary": True,
                "show_image": False,
                "picks": [page for page in picks if page is not None],
                "personalise_order": True,
                "empty_text": "",
                "hide_when_empty": True,
                "client_side": False,
            },
        )
    ]
    home.save_revision().publish()
    return True
