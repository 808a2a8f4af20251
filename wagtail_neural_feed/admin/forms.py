"""The admin form for feeds: the same rules as ``FeedConfig``, reported on the right field."""

from __future__ import annotations

import dataclasses
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.models import Page, Site, get_page_models

from ..exceptions import NeuralFeedConfigurationError
from ..feeds import FeedConfig, code_feeds, registered_feeds
from ..models import AdminFeed
from ..pagetypes import is_recommendable

#: Form fields whose value FeedConfig checks, with the FeedConfig field each becomes.
CONFIG_FIELDS = {
    "similarity_weight": "similarity_weight",
    "freshness_weight": "freshness_weight",
    "popularity_weight": "popularity_weight",
    "co_read_weight": "co_read_weight",
    "freshness_half_life_days": "freshness_half_life_days",
    "diversity": "diversity",
    "mmr_lambda": "mmr_lambda",
    "section_cap": "section_cap",
    "context_weight": "context_weight",
    "cold_start": "cold_start",
}
WEIGHTS = ("similarity_weight", "freshness_weight", "popularity_weight")


def recommendable_page_type_choices() -> list[tuple[str, str]]:
    """("app.Model", "Verbose name") for every page type using RecommendablePageMixin."""
    choices = [
        (model._meta.label, str(model._meta.verbose_name).capitalize())
        for model in get_page_models()
        if is_recommendable(model) and not model._meta.abstract
    ]
    return sorted(choices, key=lambda choice: choice[1])


def code_feed_slugs() -> set[str]:
    """Slugs taken by feeds declared in code (which an admin feed may not reuse)."""
    return set(code_feeds())


def _config_value(name: str, value: Any) -> Any:
    if name == "cold_start":
        return tuple(part for part in (value or "").split(",") if part)
    return value


def _problem_text(exc: NeuralFeedConfigurationError, field: str = "") -> str:
    """FeedConfig's message without the "Feed 'x': " prefix (and the field's own name when
    it is shown next to that field)."""
    text = str(exc)
    if ": " in text:
        text = text.split(": ", 1)[1]
    if field and text.startswith(f"{field} "):
        text = text[len(field) + 1 :]
    text = text.rstrip(".")
    return text[:1].upper() + text[1:] + "."


class AdminFeedForm(WagtailAdminModelForm):
    """Validates with FeedConfig itself, so the admin and code feeds can never disagree."""

    page_types = forms.MultipleChoiceField(
        label=_("Page types"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only pages of these types; none selected = every recommendable type."),
    )
    parent = forms.ChoiceField(
        label=_("Parent feed"),
        required=False,
        help_text=_(
            "When a reader has no profile for this feed yet, use their profile for this feed."
        ),
    )

    class Meta:
        model = AdminFeed
        exclude: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "site" in self.fields and not self.instance.pk and not self.initial.get("site"):
            default = Site.objects.filter(is_default_site=True).values_list("pk", flat=True)
            self.initial["site"] = default.first()
        if "page_types" in self.fields:
            self.fields["page_types"].choices = recommendable_page_type_choices()
        if "parent" in self.fields:
            own = self.instance.slug if self.instance.pk else None
            self.fields["parent"].choices = [("", _("None"))] + [
                (slug, f"{config.title or slug} ({slug})")
                for slug, config in sorted(registered_feeds().items())
                if slug != own
            ]

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug in code_feed_slugs():
            raise forms.ValidationError(
                _("A feed declared in code already uses the slug “%(slug)s”; pick another."),
                params={"slug": slug},
            )
        return slug

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        slug = cleaned.get("slug") or "feed"
        # Each value on its own, so a problem is reported next to its field...
        for field, config_name in CONFIG_FIELDS.items():
            if field not in cleaned or cleaned[field] is None or field in self.errors:
                continue
            try:
                FeedConfig(slug=slug, **{config_name: _config_value(field, cleaned[field])})
            except NeuralFeedConfigurationError as exc:
                self.add_error(field, _problem_text(exc, config_name))
        weights = [cleaned.get(name) for name in WEIGHTS]
        if all(isinstance(w, int | float) for w in weights) and not sum(weights) > 0:
            self.add_error(
                None,
                _("At least one of the similarity, freshness and popularity weights must be > 0."),
            )
        self._clean_parent(cleaned)
        self._clean_section(cleaned)
        # ...then all together, the exact check the ranking's config runs.
        if not self.errors:
            try:
                self.config_from(cleaned)
            except NeuralFeedConfigurationError as exc:
                self.add_error(None, _problem_text(exc))
        return cleaned

    def config_from(self, cleaned: dict[str, Any]) -> FeedConfig:
        values = {
            name: _config_value(field, cleaned[field])
            for field, name in CONFIG_FIELDS.items()
            if cleaned.get(field) is not None
        }
        section = cleaned.get("section")
        return dataclasses.replace(
            FeedConfig(slug=cleaned.get("slug") or "feed", **values),
            page_types=tuple(cleaned.get("page_types") or ()),
            root_page_id=section.pk if section is not None else None,
            parent=cleaned.get("parent") or None,
        )

    def _clean_parent(self, cleaned: dict[str, Any]) -> None:
        parent, slug = cleaned.get("parent"), cleaned.get("slug")
        if not parent:
            return
        feeds = registered_feeds()
        seen = {slug}
        while parent:
            if parent in seen:
                self.add_error("parent", _("A feed cannot be its own parent, even indirectly."))
                return
            seen.add(parent)
            config = feeds.get(parent)
            parent = config.parent if config else None

    def _clean_section(self, cleaned: dict[str, Any]) -> None:
        section, site = cleaned.get("section"), cleaned.get("site")
        if section is None or site is None:
            return
        root_paths = Page.objects.filter(
            translation_key=site.root_page.translation_key
        ).values_list("path", flat=True)
        if not any(section.path.startswith(path) for path in root_paths):
            self.add_error(
                "section",
                _("This page is not in the site “%(site)s”.") % {"site": site},
            )
