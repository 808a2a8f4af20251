"""Admin views: the recommendations dashboard, the retry and revert actions, the reader preview."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.defaults import permission_denied
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets import AdminPageChooser
from wagtail.models import Page

from ..exceptions import NeuralFeedError, TuningError
from ..feeds import registered_feeds
from ..models import TuningChange
from . import stats
from .charts import line_chart
from .evaluations import autotune_status, evaluation_rows, recent_tuning
from .preview import READER_KINDS, preview
from .tuning import revert_change

logger = logging.getLogger(__name__)

DASHBOARD_PERMISSION = "wagtail_neural_feed.view_dashboard"
#: Reverting a tuning change edits the feed: the same permission as editing it.
CHANGE_FEED_PERMISSION = "wagtail_neural_feed.change_adminfeed"


def can_view_dashboard(user: Any) -> bool:
    return bool(user and user.is_active and user.has_perm(DASHBOARD_PERMISSION))


class DashboardPermissionMixin:
    """A 403 for signed-in admin users without ``view_dashboard``.

    Returned, not raised: Wagtail's admin turns a raised PermissionDenied into
    a redirect to the dashboard, which hides the refusal from scripts and tests.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_view_dashboard(request.user):
            return permission_denied(request, PermissionDenied())
        return super().dispatch(request, *args, **kwargs)


class DashboardView(DashboardPermissionMixin, WagtailAdminTemplateMixin, TemplateView):
    page_title = gettext_lazy("Recommendations")
    header_icon = "list-ul"
    template_name = "wagtail_neural_feed/admin/dashboard.html"

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [*self.breadcrumbs_items, {"url": "", "label": str(self.page_title)}]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        activity = stats.activity()
        click_through = stats.click_through_stats()
        ctr_days = activity["days"][-14:]
        evaluations = evaluation_rows()
        context.update(
            coverage=stats.coverage(),
            health=stats.background_health(),
            activity=activity,
            chart=line_chart(activity["days"], activity["series"]),
            click_through=click_through,
            ctr_chart=line_chart(ctr_days, stats.ctr_chart_series(click_through, ctr_days)),
            preview_url=reverse("wagtail_neural_feed_admin:preview"),
            retry_url=reverse("wagtail_neural_feed_admin:retry"),
            feeds=sorted(registered_feeds().values(), key=lambda c: c.slug),
            evaluations=evaluations,
            evaluations_stored=any(row.run for row in evaluations),
            tuning_changes=recent_tuning(),
            autotune=autotune_status(),
            can_revert=self.request.user.has_perm(CHANGE_FEED_PERMISSION),
        )
        return context


class RetryView(DashboardPermissionMixin, TemplateView):
    """POST: queue the failed embeddings again (all, or the ``page`` ids posted)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        chosen = [int(pk) for pk in request.POST.getlist("page") if pk.isdigit()] or None
        queued = stats.retry_failed(chosen)
        messages.success(
            request, _("%(count)d pages queued for embedding.") % {"count": len(queued)}
        )
        return redirect("wagtail_neural_feed_admin:dashboard")


class RevertTuningView(DashboardPermissionMixin, TemplateView):
    """POST: restore the setting a tuning change replaced (needs the feed change permission)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, pk: int, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm(CHANGE_FEED_PERMISSION):
            return permission_denied(request, PermissionDenied())
        change = get_object_or_404(TuningChange, pk=pk)
        try:
            revert_change(change, user=request.user)
        except TuningError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Feed “%(feed)s” is back to its setting before this change.")
                % {"feed": change.feed},
            )
        return redirect(reverse("wagtail_neural_feed_admin:dashboard") + "#nf-tuning")


class PreviewForm(forms.Form):
    feed = forms.ChoiceField(label=gettext_lazy("Feed"))
    kind = forms.ChoiceField(
        label=gettext_lazy("Reader"),
        widget=forms.RadioSelect,
        initial="anonymous",
        choices=[
            ("anonymous", gettext_lazy("A new anonymous reader")),
            ("user", gettext_lazy("A user (username)")),
            ("visitor", gettext_lazy("A visitor (cookie id)")),
            ("interests", gettext_lazy("A new reader interested in…")),
        ],
    )
    username = forms.CharField(label=gettext_lazy("Username"), required=False)
    visitor_id = forms.CharField(label=gettext_lazy("Visitor id"), required=False)
    interests = forms.CharField(
        label=gettext_lazy("Interested in"),
        required=False,
        help_text=gettext_lazy("A few words, e.g. “jazz festivals in summer”."),
    )
    context_page = forms.ModelChoiceField(
        queryset=Page.objects.all(),
        required=False,
        label=gettext_lazy("Being read"),
        widget=AdminPageChooser(),
        help_text=gettext_lazy("Optional: the page the reader is on."),
    )
    limit = forms.IntegerField(label=gettext_lazy("Pages"), min_value=1, max_value=50, initial=10)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["feed"].choices = [
            (slug, f"{config.title or slug} ({slug})")
            for slug, config in sorted(registered_feeds().items())
        ]

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if kind not in READER_KINDS:
            raise forms.ValidationError(_("Unknown kind of reader."))
        return kind


class PreviewView(DashboardPermissionMixin, WagtailAdminTemplateMixin, TemplateView):
    page_title = gettext_lazy("Preview as a reader")
    header_icon = "view"
    template_name = "wagtail_neural_feed/admin/preview.html"

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [
            *self.breadcrumbs_items,
            {"url": reverse("wagtail_neural_feed_admin:dashboard"), "label": _("Recommendations")},
            {"url": "", "label": str(self.page_title)},
        ]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        submitted = "feed" in self.request.GET
        form = PreviewForm(self.request.GET if submitted else None)
        result, error = None, None
        if submitted and form.is_valid():
            data = form.cleaned_data
            try:
                result = preview(
                    data["feed"],
                    kind=data["kind"],
                    username=data["username"],
                    visitor_id=data["visitor_id"],
                    interests=data["interests"],
                    context_page=data["context_page"],
                    limit=data["limit"],
                )
            except NeuralFeedError as exc:
                error = str(exc)
        context.update(form=form, result=result, error=error, media=form.media)
        return context
