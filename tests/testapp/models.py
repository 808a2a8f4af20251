"""Page types for the tests: some take part in recommendations, some do not."""

from django.db import models
from wagtail import blocks
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from wagtail_neural_feed.models import RecommendablePageMixin


class HomePage(Page):
    pass


class SectionPage(Page):
    pass


class ArticlePage(RecommendablePageMixin, Page):
    intro = RichTextField(blank=True)
    body = StreamField(
        [
            ("heading", blocks.CharBlock()),
            ("paragraph", blocks.RichTextBlock()),
            (
                "quote",
                blocks.StructBlock([("text", blocks.TextBlock()), ("by", blocks.CharBlock())]),
            ),
        ],
        blank=True,
    )
    secret_note = models.TextField(blank=True)

    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]


class NewsPage(RecommendablePageMixin, Page):
    summary = models.TextField(blank=True)

    search_fields = [*Page.search_fields, index.SearchField("summary")]


class CustomTextPage(RecommendablePageMixin, Page):
    """Overrides what is embedded."""

    topic = models.CharField(max_length=200, blank=True)

    def get_embedding_text(self) -> str:
        return f"Topic: {self.topic}"


class PlainPage(Page):
    """Does not take part."""

    body = RichTextField(blank=True)
