"""Every error this package raises on purpose derives from ``NeuralFeedError``."""

from django.core.exceptions import ImproperlyConfigured


class NeuralFeedError(Exception):
    """Base class for wagtail-neural-feed errors."""


class NeuralFeedConfigurationError(NeuralFeedError, ImproperlyConfigured):
    """A ``WAGTAIL_NEURAL_FEED`` setting (named in the message) is wrong."""


class EncoderError(NeuralFeedError):
    """The encoder could not be loaded or failed to encode."""


class InvalidInteraction(NeuralFeedError, ValueError):
    """An interaction was rejected; the message says which field to fix."""


class UnknownFeed(NeuralFeedError, LookupError):
    """No feed is registered under the given slug."""


class InvalidRecommendationRequest(NeuralFeedError, ValueError):
    """A recommendation was asked for with a bad argument (e.g. a limit out of range)."""


class PageNotAvailable(NeuralFeedError, LookupError):
    """A page id names no page this reader may see (missing, not live, restricted, other site)."""


class EvaluationError(NeuralFeedError):
    """An evaluation or tuning run cannot give a trustworthy answer (e.g. too few events)."""


class TuningError(NeuralFeedError):
    """A tuned setting cannot be applied or reverted (the message says why)."""
