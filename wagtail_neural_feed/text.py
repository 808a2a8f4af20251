"""Page -> plain text for embedding.

Uses what Wagtail already knows: the title, the search description, the
page type's full-text ``search_fields`` and every RichText / StreamField, each
reduced to plain text the way Wagtail's search indexing does it (never by
rendering templates).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from django.core.exceptions import FieldDoesNotExist
from django.utils.encoding import force_str
from wagtail.fields import RichTextField, StreamField
from wagtail.rich_text import get_text_for_indexing
from wagtail.search import index

_SKIP = {"title", "search_description", "slug", "url_path"}


def content_field_names(model: type) -> list[str]:
    """Names of the fields whose text a page of ``model`` contributes, in a stable order."""
    names: list[str] = []
    for field in getattr(model, "search_fields", []):
        if isinstance(field, index.SearchField) and field.field_name not in _SKIP:
            names.append(field.field_name)
    for field in model._meta.get_fields():
        if isinstance(field, RichTextField | StreamField) and field.name not in names:
            names.append(field.name)
    return names


def _field_text(page, name: str) -> Iterator[str]:
    value = getattr(page, name, None)
    if value is None:
        return
    try:
        field = type(page)._meta.get_field(name)
    except FieldDoesNotExist:
        field = None
    if callable(value):
        value = value()
    if field is not None and hasattr(field, "get_searchable_content"):
        for piece in field.get_searchable_content(value):
            yield force_str(piece)
    elif isinstance(value, str) and "<" in value:
        yield get_text_for_indexing(value)
    else:
        yield force_str(value)


def page_text(page) -> str:
    """Plain text of ``page`` for embedding: title, search description, then content."""
    parts = [page.title or "", getattr(page, "search_description", "") or ""]
    for name in content_field_names(type(page)):
        parts.extend(_field_text(page, name))
    return "\n".join(part.strip() for part in parts if part and part.strip())


def text_hash(text: str, model_name: str) -> str:
    """Identity of what was embedded: the text and the model that embedded it."""
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()
