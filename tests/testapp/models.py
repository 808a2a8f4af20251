"""Page types for the tests: some take part in recommendations, some do not."""

from django.conf import settings
from django.db import models
from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from wagtail_neural_feed.blocks import RecommendedPagesBlock, SimilarPagesBlock
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
    # Recommendation blocks, rendered below the article (tests/templates/testapp/article_page.html).
    related = StreamField(
        [("recommended", RecommendedPagesBlock()), ("similar", SimilarPagesBlock())], blank=True
    )
    # A site's own "likes", as an interaction source for a feed (m2m mode).
    likes = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="liked_articles"
    )

    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]
    content_panels = [
        *Page.content_panels,
        FieldPanel("intro"),
        FieldPanel("body"),
        FieldPanel("related"),
    ]


class NewsPage(RecommendablePageMixin, Page):
    summary = models.TextField(blank=True)

    search_fields = [*Page.search_fields, index.SearchField("summary")]


class CustomTextPage(RecommendablePageMixin, Page):
    """Overrides what is embedded."""

    topic = models.CharField(max_length=200, blank=True)

    def get_embedding_text(self) -> str:
        return f"Topic: {self.topic}"


class Like(models.Model):
    """A site's own "like" through model (model mode)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.page_id}"


class ListingPage(Page):
    """Uses the template tags (tests/templates/testapp/listing_page.html)."""

    feed = models.CharField(max_length=100, blank=True)


class PlainPage(Page):
    """Does not take part."""

    body = RichTextField(blank=True)
