"""Feeds and per-site recommendation settings that site admins edit in the Wagtail admin.

An ``AdminFeed`` belongs to one site and resolves into the same
:class:`~wagtail_neural_feed.feeds.FeedConfig` a feed declared in code does
(:meth:`AdminFeed.to_config`). Its slug is unique across the whole install,
not per site: blocks, template tags, the JSON API, tracking tokens and
reader profiles (``ReaderProfile.feed``) all name a feed by slug alone, so two
feeds sharing a slug would share their readers' profiles. The site says whose
feed it is (the admin lists feeds by site, the section must lie in it, and a
site's settings choose among its feeds); which pages a list may show is still
decided by the reader's own site, as for every feed.
"""

from __future__ import annotations

from itertools import permutations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting

from ..compat import PAGE_MODEL
from ..feeds import FeedConfig, registered_feeds

#: The cold-start sources the admin offers (code feeds may also name "co_read").
COLD_START_SOURCES = ("context", "popular", "fresh")

COLD_START_LABELS = {
    "context": _("the page being read"),
    "popular": _("popular pages"),
    "fresh": _("fresh pages"),
}


def _cold_start_choices() -> list[tuple[str, str]]:
    """Every order of one, two or three cold-start sources ("context,popular,fresh")."""
    choices = []
    for size in range(len(COLD_START_SOURCES), 0, -1):
        for order in permutations(COLD_START_SOURCES, size):
            label = " → ".join(str(COLD_START_LABELS[name]) for name in order)
            choices.append((",".join(order), label))
    return choices


COLD_START_CHOICES = _cold_start_choices()


class Diversity(models.TextChoices):
    NONE = "none", _("None")
    MMR = "mmr", _("Maximal marginal relevance (MMR)")
    SECTION_CAP = "section_cap", _("At most N pages per section")


class AdminFeed(models.Model):
    """A feed created and tuned by a site admin; see the module docstring for slugs and sites."""

    site = models.ForeignKey(
        "wagtailcore.Site",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("site"),
        help_text=_("The site this feed belongs to; its section must be inside this site."),
    )
    title = models.CharField(_("title"), max_length=255)
    slug = models.SlugField(
        _("slug"),
        max_length=100,
        unique=True,
        help_text=_(
            "How blocks, templates and the API name this feed. Unique across all sites "
            "(readers' profiles are kept per slug); changing it starts new profiles."
        ),
    )
    page_types = models.JSONField(
        _("page types"),
        default=list,
        blank=True,
        help_text=_("Only pages of these types; none selected = every recommendable type."),
    )
    section = models.ForeignKey(
        PAGE_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("section"),
        help_text=_("Only pages below this page; empty = the reader's whole site."),
    )
    similarity_weight = models.FloatField(
        _("similarity weight"),
        default=1.0,
        help_text=_("How much closeness to the reader's interests counts (>= 0)."),
    )
    freshness_weight = models.FloatField(
        _("freshness weight"),
        default=1.0,
        help_text=_("How much recently published pages are favoured (>= 0)."),
    )
    popularity_weight = models.FloatField(
        _("popularity weight"),
        default=1.0,
        help_text=_("How much pages many readers read are favoured (>= 0)."),
    )
    co_read_weight = models.FloatField(
        _("co-read weight"),
        default=0.0,
        help_text=_(
            "How much pages read by readers of the same pages are favoured "
            "(“readers of this also read”, >= 0)."
        ),
    )
    freshness_half_life_days = models.FloatField(
        _("freshness half-life (days)"),
        default=0.5,
        help_text=_("After this many days a page's freshness has halved (> 0)."),
    )
    diversity = models.CharField(
        _("diversity"), max_length=16, choices=Diversity.choices, default=Diversity.NONE
    )
    mmr_lambda = models.FloatField(
        _("MMR λ"),
        default=0.7,
        help_text=_("With MMR: 1 = relevance only, 0 = variety only (0 to 1)."),
    )
    section_cap = models.PositiveSmallIntegerField(
        _("pages per section"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("With a per-section cap: at most this many pages from one section (1-100)."),
    )
    context_weight = models.FloatField(
        _("context weight"),
        default=0.3,
        help_text=_(
            "How much the page being read steers the list, blended into the reader's "
            "interests (0 to 1)."
        ),
    )
    cold_start = models.CharField(
        _("for new readers"),
        max_length=64,
        choices=COLD_START_CHOICES,
        default="context,popular,fresh",
        help_text=_("What a reader without a profile is shown, in this order."),
    )
    exclude_read = models.BooleanField(
        _("exclude pages already read"),
        default=True,
        help_text=_("Leave out pages the reader has already read."),
    )
    parent = models.SlugField(
        _("parent feed"),
        max_length=100,
        blank=True,
        help_text=_(
            "When a reader has no profile for this feed yet, use their profile for this feed."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("recommendation feed")
        verbose_name_plural = _("recommendation feeds")
        ordering = ["site", "title"]
        permissions = [("view_dashboard", _("Can view the recommendations dashboard"))]

    def __str__(self) -> str:
        return self.title or self.slug

    def to_config(self) -> FeedConfig:
        """This feed as the ranking sees it (raises NeuralFeedConfigurationError if invalid)."""
        return FeedConfig(
            slug=self.slug,
            title=self.title,
            page_types=tuple(self.page_types or ()),
            root_page_id=self.section_id,
            similarity_weight=self.similarity_weight,
            freshness_weight=self.freshness_weight,
            popularity_weight=self.popularity_weight,
            co_read_weight=self.co_read_weight,
            freshness_half_life_days=self.freshness_half_life_days,
            diversity=self.diversity,
            mmr_lambda=self.mmr_lambda,
            section_cap=self.section_cap,
            exclude_read=self.exclude_read,
            context_weight=self.context_weight,
            cold_start=tuple(part for part in self.cold_start.split(",") if part),
            parent=self.parent or None,
        )


@register_setting(icon="list-ul")
class RecommendationSettings(BaseSiteSetting):
    """Per-site switches for recommendations (Settings → Recommendation settings)."""

    default_feed = models.SlugField(
        _("default feed"),
        max_length=100,
        blank=True,
        help_text=_(
            "The feed recommendation blocks use when the editor picks none; "
            "empty = the site-wide default feed."
        ),
    )
    tracking_enabled = models.BooleanField(
        _("record reading"),
        default=True,
        help_text=_(
            "Record what readers read and like on this site. When off, lists are "
            "still shown but no interaction is stored."
        ),
    )

    class Meta:
        verbose_name = _("recommendation settings")

    def clean(self) -> None:
        super().clean()
        if self.default_feed and self.default_feed not in registered_feeds():
            raise ValidationError(
                {"default_feed": _("No feed has the slug “%s”.") % self.default_feed}
            )
