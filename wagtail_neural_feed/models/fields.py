"""The vector column type, sized by the ``DIMENSIONS`` setting, and its HNSW index."""

from __future__ import annotations

from pgvector.django import HnswIndex, VectorField

from ..conf import neural_feed_settings

#: HNSW build parameters, shared by every vector index (pages and the hot tier)
#: so both searches trade recall for speed the same way.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64

PAGE_HNSW_INDEX = "neural_feed_embedding_hnsw"
HOT_HNSW_INDEX = "neural_feed_hot_hnsw"


def embedding_dimensions() -> int:
    """The configured vector dimension.

    This is the one setting read when models load: a column's type needs it.
    Change it, then run ``manage.py neural_feed_embed --rebuild``, which resizes
    the column and re-embeds every page.
    """
    return int(neural_feed_settings.DIMENSIONS)


def embedding_field(**kwargs) -> VectorField:
    return VectorField(dimensions=embedding_dimensions(), **kwargs)


def hnsw_index(name: str) -> HnswIndex:
    """A cosine HNSW index on the ``embedding`` column."""
    return HnswIndex(
        name=name,
        fields=["embedding"],
        m=HNSW_M,
        ef_construction=HNSW_EF_CONSTRUCTION,
        opclasses=["vector_cosine_ops"],
    )
