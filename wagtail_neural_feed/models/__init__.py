"""Models: page embeddings, popularity counters, readers, interactions and profiles."""

from .embeddings import DENORMALISED_COLUMNS, FILTER_COLUMNS, EmbeddingStatus, PageEmbedding
from .hot import HotPage, HotTier
from .impressions import Impression
from .mixins import RecommendablePageMixin
from .popularity import PagePopularity
from .readers import Interaction, Reader, ReaderProfile

__all__ = [
    "DENORMALISED_COLUMNS",
    "FILTER_COLUMNS",
    "EmbeddingStatus",
    "HotPage",
    "HotTier",
    "Impression",
    "Interaction",
    "PageEmbedding",
    "PagePopularity",
    "Reader",
    "ReaderProfile",
    "RecommendablePageMixin",
]
