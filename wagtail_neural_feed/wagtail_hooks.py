"""Wagtail hooks: optional server-side view recording (``RECORD_VIEWS_ON_SERVE``)."""

from __future__ import annotations

import logging

from wagtail import hooks

from .conf import neural_feed_settings
from .exceptions import InvalidInteraction
from .pagetypes import is_recommendable
from .tracking import is_bot, record_interaction

logger = logging.getLogger(__name__)


@hooks.register("before_serve_page")
def record_view_on_serve(page, request, serve_args, serve_kwargs):
    """Record a view when Wagtail serves a page (off by default: the beacon also
    counts CDN-cached pages). Previews, bots and non-GET requests are skipped;
    a failure here never breaks serving the page."""
    if not neural_feed_settings.RECORD_VIEWS_ON_SERVE:
        return None
    if request.method != "GET" or getattr(request, "is_preview", False) or is_bot(request):
        return None
    if not is_recommendable(page):
        return None
    try:
        record_interaction(request, page, "view")
    except InvalidInteraction:
        logger.warning("View of page %s not recorded", page.pk)
    except Exception:
        logger.exception("Recording a view of page %s failed; the page is served anyway", page.pk)
    return None
