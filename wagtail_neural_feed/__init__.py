"""Personalised, semantic page recommendations for Wagtail, ranked in PostgreSQL with pgvector."""

__version__ = "0.1.0.dev0"

__all__ = ["Feed", "FeedConfig", "explain", "recommend", "register_feed", "similar_pages"]


def __getattr__(name: str):
    """Import the public API lazily: this module is imported before Django's apps are ready."""
    if name in ("Feed", "FeedConfig", "register_feed"):
        from . import feeds

        return getattr(feeds, name)
    if name in ("recommend", "similar_pages", "explain"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
