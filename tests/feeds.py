"""Feeds declared in code, registered through the ``FEEDS`` setting in some tests."""

from wagtail_neural_feed import Feed


class ArticlesFeed(Feed):
    slug = "articles"
    page_types = ["testapp.ArticlePage"]


class OrphanFeed(Feed):
    slug = "orphan"
    parent = "no-such-feed"


class PlainPagesFeed(Feed):
    slug = "plain"
    page_types = ["testapp.PlainPage"]


class UnknownTypeFeed(Feed):
    slug = "unknown-type"
    page_types = ["testapp.NoSuchPage"]


class BadWeightFeed(Feed):
    slug = "bad-weight"
    freshness_weight = -1


class M2MLikesFeed(Feed):
    slug = "m2m-likes"
    interaction_source = {"mode": "m2m", "model": "testapp.ArticlePage", "field": "likes"}


class ModelLikesFeed(Feed):
    slug = "model-likes"
    interaction_source = {
        "mode": "model",
        "model": "testapp.Like",
        "user_field": "user",
        "page_field": "page",
    }


class SlowFreshnessFeed(Feed):
    """Freshness fading over months: a 90-day hot tier does not cover it."""

    slug = "slow-freshness"
    freshness_half_life_days = 60


class NewsFeed(Feed):
    """Has its own list template: tests/templates/wagtail_neural_feed/feeds/news.html."""

    slug = "news"
    title = "Latest news"
    page_types = ["testapp.NewsPage"]
