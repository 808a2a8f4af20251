"""The template tags as Jinja2 globals, for sites rendering with Jinja2.

Add ``"wagtail_neural_feed.jinja2tags.neural_feed"`` to the ``extensions`` of
your Jinja2 environment, then::

    {% set pages = recommended_pages(feed="news", limit=5) %}
    {{ recommended_pages_list(feed="news", layout="cards") }}
    {{ similar_pages_list(page, limit=4) }}

They read ``request`` and ``page`` from the template context, exactly like
the Django tags (same arguments, same defaults).
"""

from __future__ import annotations

from jinja2 import pass_context
from jinja2.ext import Extension

from .templatetags import neural_feed as tags


class NeuralFeedExtension(Extension):
    """``recommended_pages``, ``similar_pages`` and their ``*_list`` forms as globals."""

    def __init__(self, environment) -> None:
        super().__init__(environment)
        environment.globals.update(
            {
                name: pass_context(getattr(tags, name))
                for name in (
                    "recommended_pages",
                    "similar_pages",
                    "recommended_pages_list",
                    "similar_pages_list",
                )
            }
        )


neural_feed = NeuralFeedExtension
