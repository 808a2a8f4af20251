"""Resize the vector columns when the encoder's dimension changes.

Only our own tables are touched (decision 1): the HNSW index is dropped,
the columns retyped (old vectors cannot be converted, so they are cleared
and every page is marked for re-encoding), and the index rebuilt.
"""

from __future__ import annotations

import logging

from django.db import connection, connections, transaction

from .models import EmbeddingStatus, HotPage, HotTier, PageEmbedding, ReaderProfile
from .models.fields import HOT_HNSW_INDEX, PAGE_HNSW_INDEX, hnsw_index

logger = logging.getLogger(__name__)


def column_dimensions(using: str = "default") -> int | None:
    """The dimension of the PageEmbedding vector column as it is in the database."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = 'embedding' AND NOT attisdropped",
            [PageEmbedding._meta.db_table],
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] > 0 else None


def resize_vector_columns(dimensions: int) -> bool:
    """Retype the vector columns to ``vector(dimensions)``. Returns False if already that size."""
    if column_dimensions() == dimensions:
        return False
    embeddings = PageEmbedding._meta.db_table
    profiles = ReaderProfile._meta.db_table
    hot = HotPage._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # Deferred foreign-key checks queued in this transaction would block ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP INDEX IF EXISTS {PAGE_HNSW_INDEX}")
        cursor.execute(f"DROP INDEX IF EXISTS {HOT_HNSW_INDEX}")
        # The hot tier is rebuilt from the new vectors by the next refresh.
        cursor.execute(f"DELETE FROM {HotTier._meta.db_table}")
        cursor.execute(f"DELETE FROM {hot}")
        cursor.execute(f"ALTER TABLE {hot} ALTER COLUMN embedding TYPE vector({dimensions})")
        cursor.execute(
            f"ALTER TABLE {embeddings} ALTER COLUMN embedding TYPE vector({dimensions}) USING NULL"
        )
        for column in ("vector", "sum_vector"):
            cursor.execute(
                f"ALTER TABLE {profiles} ALTER COLUMN {column} TYPE vector({dimensions}) USING NULL"
            )
        cursor.execute(
            f"UPDATE {embeddings} SET status = %s, text_hash = '', attempts = 0",
            [EmbeddingStatus.PENDING],
        )
        cursor.execute(f"UPDATE {profiles} SET stale = true")
        with connection.schema_editor() as editor:
            editor.add_index(PageEmbedding, hnsw_index(PAGE_HNSW_INDEX))
            editor.add_index(HotPage, hnsw_index(HOT_HNSW_INDEX))
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    logger.warning("Resized neural feed vector columns to %d dimensions", dimensions)
    return True
