"""``SimilarPagesPanel``: the page's embedding status and "more like this" in the page editor."""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import Panel

from ..api import similar_pages
from ..models import PageEmbedding

logger = logging.getLogger(__name__)


class SimilarPagesPanel(Panel):
    """A panel a page type adds: ``Page.content_panels + [SimilarPagesPanel()]``.

    Shows what readers get under "More like this" for the published version
    of the page (drafts are never embedded), so editors see whether the page
    is embedded yet and which pages it sits next to.
    """

    def __init__(self, limit: int = 5, **kwargs: Any) -> None:
        kwargs.setdefault("heading", _("Similar pages"))
        super().__init__(**kwargs)
        self.limit = limit

    def clone_kwargs(self) -> dict[str, Any]:
        return {**super().clone_kwargs(), "limit": self.limit}

    @property
    def clean_name(self) -> str:
        return super().clean_name or "similar_pages"

    class BoundPanel(Panel.BoundPanel):
        template_name = "wagtail_neural_feed/admin/similar_pages_panel.html"

        def get_context_data(self, parent_context: Any = None) -> dict[str, Any]:
            context = super().get_context_data(parent_context)
            page = self.instance
            embedding = None
            similar: list = []
            error = None
            if page is not None and page.pk:
                embedding = (
                    PageEmbedding.objects.filter(page_id=page.pk)
                    .only("status", "error", "embedded_at", "attempts")
                    .first()
                )
                if embedding is not None and embedding.status == "ready":
                    try:
                        similar = similar_pages(page, limit=self.panel.limit)
                    except Exception:  # never break the editor over a list
                        logger.exception("Similar pages of page %s failed", page.pk)
                        error = _("The list could not be computed; see the server log.")
            context.update(embedding=embedding, similar=similar, error=error, page=page)
            return context
