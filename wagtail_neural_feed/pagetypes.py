"""Which page types take part: the one place that answers "is this recommendable?".

Indexing, ranking, profiles, checks, tags and blocks all ask here.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from wagtail.models import get_page_models

from .exceptions import NeuralFeedConfigurationError
from .models import RecommendablePageMixin


def is_recommendable(page_or_class) -> bool:
    """Whether a page (or page class) uses :class:`RecommendablePageMixin`."""
    cls = page_or_class if isinstance(page_or_class, type) else type(page_or_class)
    return issubclass(cls, RecommendablePageMixin)


def recommendable_models() -> list[type]:
    """Every page model that takes part."""
    return [model for model in get_page_models() if is_recommendable(model)]


def recommendable_content_type_ids() -> list[int]:
    """Content type ids of every page model that takes part."""
    models = recommendable_models()
    return [ct.id for ct in ContentType.objects.get_for_models(*models).values()]


def page_type_models(page_types: Iterable[str]) -> list[type]:
    """Models named by ``"app_label.ModelName"`` labels; raises for an unknown label."""
    wanted = []
    for label in page_types:
        try:
            wanted.append(apps.get_model(label))
        except (LookupError, ValueError) as exc:
            raise NeuralFeedConfigurationError(f"Unknown page type {label!r}: {exc}") from exc
    return wanted


def content_type_ids(page_types: Iterable[str]) -> list[int]:
    """Content types of the named page models and their recommendable subclasses.

    ``[-1]`` when none take part: an honest empty list, never "every type".
    """
    wanted = page_type_models(page_types)
    models = [
        model for model in recommendable_models() if any(issubclass(model, base) for base in wanted)
    ]
    if not models:
        return [-1]
    return [ct.id for ct in ContentType.objects.get_for_models(*models).values()]
