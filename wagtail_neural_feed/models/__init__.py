"""Models: page embeddings, popularity counters, readers, interactions and profiles."""

from .admin_feeds import AdminFeed, RecommendationSettings
from .co_reads import CoRead
from .embeddings import DENORMALISED_COLUMNS, FILTER_COLUMNS, EmbeddingStatus, PageEmbedding
from .evaluations import EvaluationRun, TuningChange
from .hot import HotPage, HotTier
from .impressions import Impression
from .mixins import RecommendablePageMixin
from .popularity import PagePopularity
from .readers import Interaction, Reader, ReaderProfile

__all__ = [
    "DENORMALISED_COLUMNS",
    "FILTER_COLUMNS",
    "AdminFeed",
    "CoRead",
    "EmbeddingStatus",
    "EvaluationRun",
    "HotPage",
    "HotTier",
    "Impression",
    "Interaction",
    "PageEmbedding",
    "PagePopularity",
    "Reader",
    "ReaderProfile",
    "RecommendablePageMixin",
    "RecommendationSettings",
    "TuningChange",
]
