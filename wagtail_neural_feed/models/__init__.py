"""Models: page embeddings, popularity counters, readers, interactions and profiles."""

from .embeddings import EmbeddingStatus, PageEmbedding
from .hot import HotPage, HotTier
from .mixins import RecommendablePageMixin
from .popularity import PagePopularity
from .readers import Interaction, Reader, ReaderProfile

__all__ = [
    "EmbeddingStatus",
    "HotPage",
    "HotTier",
    "Interaction",
    "PageEmbedding",
    "PagePopularity",
    "Reader",
    "ReaderProfile",
    "RecommendablePageMixin",
]
