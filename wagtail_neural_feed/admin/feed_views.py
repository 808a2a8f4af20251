"""Settings → Recommendations: admin feeds as a snippet viewset, code feeds read-only.

Feeds declared in code are listed but cannot be edited or overridden here.
A code feed may carry things the form cannot show (its own interaction
source, candidate counts, ``extra``), a developer's ``NewsFeed.recommend()``
resolves the class itself, and the code is what a deploy reproduces: an
admin copy overriding it would make the same slug mean different things in
different places. An admin who wants other weights creates a new feed (or
sets it as the site's default feed) instead.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.log_actions import LogFormatter, log
from wagtail.snippets.views.snippets import EditView, IndexView, SnippetViewSet

from ..feeds import code_feeds
from ..models import AdminFeed
from .forms import AdminFeedForm

EDIT_ACTION = "wagtail_neural_feed.edit_feed"


def _shown(value: Any) -> str:
    if value in (None, "", [], ()):
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def feed_changes(form: AdminFeedForm) -> list[dict[str, str]]:
    """Each changed field of a saved feed form as {field, label, old, new}, for the audit log."""
    changes = []
    for name in form.changed_data:
        bound = form[name]
        old = form.initial.get(name)
        new = form.cleaned_data.get(name)
        if hasattr(new, "pk"):
            new = new.pk
        changes.append(
            {"field": name, "label": str(bound.label), "old": _shown(old), "new": _shown(new)}
        )
    return changes


class FeedEditLogFormatter(LogFormatter):
    """History reads "Changed Freshness weight: 0.2 → 0.5; Diversity: none → mmr"."""

    label = _("Edit recommendation feed")

    def format_message(self, log_entry: Any) -> str:
        changes = (log_entry.data or {}).get("changes") or []
        if not changes:
            return str(_("Saved without changes"))
        parts = [f"{c['label']}: {c['old']} → {c['new']}" for c in changes]
        return str(_("Changed %(changes)s")) % {"changes": "; ".join(parts)}


class AdminFeedEditView(EditView):
    """The snippet edit view, logging which values changed (old → new) in the history."""

    def save_instance(self) -> AdminFeed:
        changes = feed_changes(self.form)
        # The form's own save: the same on Wagtail 7.4 and 8 (8's edit action adds
        # revisions and locking, which a feed has neither of); the log entry is ours.
        instance = self.form.save()
        self.has_content_changes = bool(changes)
        log(
            instance=instance,
            action=EDIT_ACTION,
            user=self.request.user,
            data={"changes": changes},
            content_changed=bool(changes),
        )
        return instance


class AdminFeedIndexView(IndexView):
    """The admin feeds, followed by the feeds declared in code (read-only)."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["code_feeds"] = [config for _, config in sorted(code_feeds().items())]
        return context


class AdminFeedViewSet(SnippetViewSet):
    model = AdminFeed
    icon = "list-ul"
    menu_label = _("Recommendations")
    menu_name = "neural-feed-feeds"
    add_to_settings_menu = True
    list_display = ["title", "slug", "site", "similarity_weight", "freshness_weight",
                    "popularity_weight", "diversity"]  # fmt: skip
    list_filter = ["site"]
    index_view_class = AdminFeedIndexView
    edit_view_class = AdminFeedEditView
    index_template_name = "wagtail_neural_feed/admin/feed_index.html"
    edit_handler = ObjectList(
        [
            MultiFieldPanel(
                [FieldPanel("site"), FieldPanel("title"), FieldPanel("slug")],
                heading=_("Feed"),
            ),
            MultiFieldPanel(
                [FieldPanel("page_types"), FieldPanel("section")],
                heading=_("Which pages"),
            ),
            MultiFieldPanel(
                [
                    FieldRowPanel(
                        [
                            FieldPanel("similarity_weight"),
                            FieldPanel("freshness_weight"),
                            FieldPanel("popularity_weight"),
                        ]
                    ),
                    FieldPanel("freshness_half_life_days"),
                    FieldPanel("context_weight"),
                    FieldPanel("co_read_weight"),
                ],
                heading=_("Scoring"),
            ),
            MultiFieldPanel(
                [
                    FieldPanel("diversity"),
                    FieldRowPanel([FieldPanel("mmr_lambda"), FieldPanel("section_cap")]),
                ],
                heading=_("Variety"),
            ),
            MultiFieldPanel(
                [FieldPanel("cold_start"), FieldPanel("exclude_read"), FieldPanel("parent")],
                heading=_("Readers"),
            ),
        ],
        base_form_class=AdminFeedForm,
    )
