"""Differences between the Wagtail versions we support, in one place."""

from __future__ import annotations

try:  # Wagtail 8 makes the base Page model swappable.
    import swapper

    PAGE_MODEL: str = swapper.get_model_name("wagtailcore", "Page")
except ImportError:  # Wagtail 7.x
    PAGE_MODEL = "wagtailcore.Page"


def get_page_model():
    """The concrete base Page model (``wagtailcore.Page`` unless swapped)."""
    from django.apps import apps

    return apps.get_model(PAGE_MODEL)
