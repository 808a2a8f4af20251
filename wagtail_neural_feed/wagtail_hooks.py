"""Wagtail hooks: optional server-side view recording (``RECORD_VIEWS_ON_SERVE``) and the
admin: feeds in Settings → Recommendations, the dashboard, the preview, a home page summary."""

from __future__ import annotations

import logging

from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.components import Component
from wagtail.snippets.models import register_snippet

from .admin import views
from .admin.feed_views import EDIT_ACTION, AdminFeedViewSet, FeedEditLogFormatter
from .admin.stats import home_summary
from .admin.tuning import (
    REVERT_ACTION,
    TUNE_ACTION,
    FeedRevertLogFormatter,
    FeedTuneLogFormatter,
)
from .admin.views import can_view_dashboard
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


# --- the admin: feeds in Settings, dashboard, preview, home page summary ---------


@hooks.register("register_admin_urls")
def register_admin_urls():
    urls = [
        path("", views.DashboardView.as_view(), name="dashboard"),
        path("retry/", views.RetryView.as_view(), name="retry"),
        path("preview/", views.PreviewView.as_view(), name="preview"),
        path("tuning/<int:pk>/revert/", views.RevertTuningView.as_view(), name="revert_tuning"),
    ]
    return [path("neural-feed/", include((urls, "wagtail_neural_feed_admin")))]


class DashboardMenuItem(MenuItem):
    def is_shown(self, request) -> bool:
        return can_view_dashboard(request.user)


@hooks.register("register_admin_menu_item")
def register_dashboard_menu_item():
    return DashboardMenuItem(
        _("Recommendations"),
        reverse("wagtail_neural_feed_admin:dashboard"),
        name="neural-feed-dashboard",
        icon_name="list-ul",
        order=850,
    )


@hooks.register("register_permissions")
def register_dashboard_permission():
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="wagtail_neural_feed", codename="view_dashboard"
    )


@hooks.register("register_log_actions")
def register_feed_log_actions(actions):
    actions.register_action(EDIT_ACTION)(FeedEditLogFormatter)
    actions.register_action(TUNE_ACTION)(FeedTuneLogFormatter)
    actions.register_action(REVERT_ACTION)(FeedRevertLogFormatter)


class RecommendationsSummaryPanel(Component):
    """ "1,238 of 1,240 pages embedded · CTR 4.2 % this week" on the admin home page."""

    name = "neural_feed_summary"
    order = 150
    template_name = "wagtail_neural_feed/admin/home_panel.html"

    def get_context_data(self, parent_context=None):
        return {
            "summary": home_summary(),
            "dashboard_url": reverse("wagtail_neural_feed_admin:dashboard"),
        }


@hooks.register("construct_homepage_panels")
def add_summary_panel(request, panels):
    if can_view_dashboard(request.user):
        panels.append(RecommendationsSummaryPanel())


register_snippet(AdminFeedViewSet)
