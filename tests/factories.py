"""Page factories built on wagtail_factories."""

import factory
import wagtail_factories

from tests.testapp.models import (
    ArticlePage,
    CustomTextPage,
    HomePage,
    NewsPage,
    PlainPage,
    SectionPage,
)


class HomePageFactory(wagtail_factories.PageFactory):
    title = "Home"

    class Meta:
        model = HomePage


class SectionPageFactory(wagtail_factories.PageFactory):
    title = factory.Sequence(lambda n: f"Section {n}")

    class Meta:
        model = SectionPage


class ArticlePageFactory(wagtail_factories.PageFactory):
    title = factory.Sequence(lambda n: f"Article {n}")
    intro = ""

    class Meta:
        model = ArticlePage


class NewsPageFactory(wagtail_factories.PageFactory):
    title = factory.Sequence(lambda n: f"News {n}")

    class Meta:
        model = NewsPage


class CustomTextPageFactory(wagtail_factories.PageFactory):
    title = factory.Sequence(lambda n: f"Custom {n}")

    class Meta:
        model = CustomTextPage


class PlainPageFactory(wagtail_factories.PageFactory):
    title = factory.Sequence(lambda n: f"Plain {n}")

    class Meta:
        model = PlainPage
