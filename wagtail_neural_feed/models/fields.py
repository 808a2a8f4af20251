"""The vector column type, sized by the ``DIMENSIONS`` setting."""

from __future__ import annotations

from django.conf import settings
from pgvector.django import VectorField

DEFAULT_DIMENSIONS = 384


def embedding_dimensions() -> int:
    """The configured vector dimension.

    This is the one setting read when models load: a column's type needs it.
    Change it, then run ``manage.py neural_feed_embed --rebuild``, which resizes
    the column and re-embeds every page.
    """
    return int(getattr(settings, "WAGTAIL_NEURAL_FEED", {}).get("DIMENSIONS", DEFAULT_DIMENSIONS))


def embedding_field(**kwargs) -> VectorField:
    return VectorField(dimensions=embedding_dimensions(), **kwargs)
