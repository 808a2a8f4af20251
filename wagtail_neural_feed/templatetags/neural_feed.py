"""Template tags: ``{% load neural_feed %}``."""

from __future__ import annotations

from django import template
from django.urls import reverse

from ..conf import neural_feed_settings
from ..tracking import page_token

register = template.Library()


@register.inclusion_tag("wagtail_neural_feed/tracker.html", takes_context=True)
def neural_feed_tracker(context, page=None) -> dict:
    """The beacon script for ``page`` (default: the ``page`` in the context).

    It reports a view when the page is shown and the reading time when it is
    left, with ``navigator.sendBeacon``; it works on CDN-cached pages (the
    token is per page, not per reader) and honours Do Not Track, Global
    Privacy Control and the consent cookie in the browser too. It also reports
    impressions of and clicks on rendered lists (``data-neural-feed-list``) and
    fills client-side placeholders (``data-neural-feed-placeholder``) from the
    JSON API.
    """
    page = page or context.get("page")
    if page is None or not getattr(page, "pk", None):
        return {"enabled": False}
    return {
        "enabled": True,
        "config": {
            "endpoint": reverse("wagtail_neural_feed:interactions"),
            "page": page.pk,
            "token": page_token(page.pk),
            "respectDnt": bool(neural_feed_settings.RESPECT_DO_NOT_TRACK),
            "consentCookie": neural_feed_settings.CONSENT_COOKIE_NAME or "",
            # The JSON API, for [data-neural-feed-placeholder] elements (client-side mode).
            "recommendationsEndpoint": reverse("wagtail_neural_feed:recommendations"),
            # ".../similar/" without an id: the script appends the context page id.
            "similarEndpoint": reverse("wagtail_neural_feed:similar", args=["0"])[:-2],
        },
    }
