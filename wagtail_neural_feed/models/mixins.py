"""``RecommendablePageMixin``: what makes a page type take part."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..text import page_text
from .embeddings import EmbeddingStatus, PageEmbedding

if TYPE_CHECKING:
    import numpy as np
    from wagtail.models import Page


class RecommendablePageMixin:
    """Mix into a Wagtail page model to embed it on publish and recommend it.

    ``class ArticlePage(RecommendablePageMixin, Page): ...``

    Override :meth:`get_embedding_text` to choose what is embedded.
    """

    def get_embedding_text(self) -> str:
        """The text to embed: title, search description and body content.

        By default this is the content Wagtail indexes for search; override it
        per page type to embed something else.
        """
        return page_text(self)

    @property
    def embedding(self) -> np.ndarray | None:
        """This page's embedding vector, or None until it has been embedded."""
        row = (
            PageEmbedding.objects.filter(page_id=self.pk, status=EmbeddingStatus.READY)
            .values_list("embedding", flat=True)
            .first()
        )
        return row

    @property
    def embedding_status(self) -> str | None:
        return (
            PageEmbedding.objects.filter(page_id=self.pk).values_list("status", flat=True).first()
        )

    def similar_pages(self, *, limit: int = 5, feed: Any = None) -> list[Page]:
        """Live pages most like this one, best first (see ``wagtail_neural_feed.similar_pages``)."""
        # The package's one upward import: models load before the API can.
        from ..api import similar_pages

        return similar_pages(self, limit=limit, feed=feed)
