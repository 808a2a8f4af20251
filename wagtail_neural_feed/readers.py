"""Who is reading: map a request (or user) to a ``Reader`` row.

(Issue 3 grows this: consent, Do Not Track, visitor cookies, login merge.)
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest

from .conf import neural_feed_settings
from .models import Reader


def visitor_id_from_request(request: HttpRequest) -> uuid.UUID | None:
    raw = request.COOKIES.get(neural_feed_settings.VISITOR_COOKIE_NAME)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def reader_for_request(request: HttpRequest, *, create: bool = False) -> Reader | None:
    """The Reader behind ``request``: its user, else its visitor cookie; None if unknown."""
    cached = getattr(request, "_neural_feed_reader", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    reader = None
    if user is not None and user.is_authenticated:
        if create:
            reader, _ = Reader.objects.get_or_create(user=user)
        else:
            reader = Reader.objects.filter(user=user).first()
    else:
        visitor = visitor_id_from_request(request)
        if visitor is not None:
            if create:
                reader, _ = Reader.objects.get_or_create(visitor_id=visitor)
            else:
                reader = Reader.objects.filter(visitor_id=visitor).first()
    if reader is not None:
        request._neural_feed_reader = reader
    return reader


def resolve_reader(reader_or_request, *, create: bool = False) -> Reader | None:
    """Accept a Reader, a user, a request or None."""
    if reader_or_request is None or isinstance(reader_or_request, Reader):
        return reader_or_request
    if isinstance(reader_or_request, HttpRequest):
        return reader_for_request(reader_or_request, create=create)
    if getattr(reader_or_request, "is_authenticated", False):
        if create:
            return Reader.objects.get_or_create(user=reader_or_request)[0]
        return Reader.objects.filter(user=reader_or_request).first()
    return None
