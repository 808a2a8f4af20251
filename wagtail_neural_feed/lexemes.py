"""Full-text lexemes for rows embedded before lexemes were stored with the vector.

``indexing.store_batch`` writes a page's lexemes with its vector. Rows
embedded by an earlier version have none, and their text is unchanged, so
they are never re-encoded: :func:`fill_missing_lexemes` (run by
``neural_feed_embed``) writes them from the page text, without the encoder.
"""

from __future__ import annotations

from django.db import connection, transaction
from wagtail.models import Page

from .conf import neural_feed_settings
from .indexing import embedding_text
from .models import EmbeddingStatus, PageEmbedding
from .pagetypes import is_recommendable


def fill_missing_lexemes(*, batch_size: int = 500) -> int:
    """Write the lexemes of ready rows that have none; returns the rows written."""
    table = PageEmbedding._meta.db_table
    config = str(neural_feed_settings.TEXT_SEARCH_CONFIG)
    missing = PageEmbedding.objects.filter(
        status=EmbeddingStatus.READY, lexemes__isnull=True, live=True
    ).values_list("pk", flat=True)
    ids = sorted(missing)
    written = 0
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        pages = Page.objects.filter(pk__in=chunk)
        params = [
            (config, embedding_text(page), page.pk)
            for page in pages.specific().iterator(chunk_size=batch_size)
            if is_recommendable(page)
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET lexemes = to_tsvector(%s::regconfig, %s) "
                "WHERE page_id = %s AND lexemes IS NULL",
                params,
            )
        written += len(params)
    return written
