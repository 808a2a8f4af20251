"""The demo's page types: a home page, one index per section and articles.

Articles take part in recommendations through ``RecommendablePageMixin``; the
lists on each page come from :mod:`blog.recommendations`.
"""

from __future__ import annotations

from django.db import models
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey
from taggit.models import TaggedItemBase
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from wagtail_neural_feed.models import RecommendablePageMixin

from . import recommendations
from .blocks import ARTICLE_BLOCKS, HOME_BLOCKS
from .sections import SECTIONS_BY_SLUG


class HomePage(Page):
    intro = models.TextField(blank=True)
    body = StreamField(HOME_BLOCKS, blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body")]
    subpage_types = ["blog.SectionPage"]
    max_count = 1

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["sections"] = SectionPage.objects.live().child_of(self).select_related("image")
        context.update(recommendations.home_lists(request))
        return context


class SectionPage(Page):
    intro = models.TextField(blank=True)
    image = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("image")]
    parent_page_types = ["blog.HomePage"]
    subpage_types = ["blog.ArticlePage"]

    @property
    def palette(self) -> tuple[str, ...]:
        section = SECTIONS_BY_SLUG.get(self.slug)
        return section.palette if section else ("#333333", "#666666")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        lists = recommendations.section_lists(request, self)
        shown = [page.pk for page in lists["for_you"].pages]
        context["latest"] = recommendations.with_sections(
            ArticlePage.objects.live()
            .child_of(self)
            .exclude(pk__in=shown)
            .select_related("image")
            .order_by("-first_published_at")[:12]
        )
        context.update(lists)
        return context


class ArticlePageTag(TaggedItemBase):
    content_object = ParentalKey(
        "blog.ArticlePage", on_delete=models.CASCADE, related_name="tagged_items"
    )


class ArticlePage(RecommendablePageMixin, Page):
    intro = models.TextField(help_text="One sentence shown on cards and under the title.")
    body = StreamField(ARTICLE_BLOCKS, blank=True)
    image = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = ClusterTaggableManager(through=ArticlePageTag, blank=True)

    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]
    content_panels = [
        *Page.content_panels,
        FieldPanel("intro"),
        FieldPanel("image"),
        FieldPanel("body"),
        FieldPanel("tags"),
    ]
    parent_page_types = ["blog.SectionPage"]
    subpage_types: list[str] = []

    @property
    def section(self) -> Page:
        return self.get_parent()

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context.update(recommendations.article_lists(request, self))
        return context
