"""Preview as a reader: the list a feed gives one reader, with each score's parts.

A reader is a user (by username), a visitor (by cookie id), nobody (a new,
anonymous reader), or "a new reader interested in …": typed words are encoded
into a profile that exists only for the preview. That profile is a real
``ReaderProfile`` row for a throwaway reader, written and ranked inside a
transaction that is then rolled back, so the preview runs the very ranking
readers get (same statements, same paths) and leaves nothing behind.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.models import Page

from ..api import recommend
from ..encoders import get_encoder
from ..exceptions import NeuralFeedError
from ..feeds import get_feed_config
from ..models import Reader, ReaderProfile
from ..statements import read_alias

logger = logging.getLogger(__name__)

READER_KINDS = ("anonymous", "user", "visitor", "interests")


class PreviewError(NeuralFeedError, ValueError):
    """The preview cannot run as asked (unknown user, bad visitor id...)."""


@dataclass
class PreviewResult:
    pages: list[Page]
    reader: str
    profile_feeds: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        """The ranking paths that served the list ("hot tier", "exact", "fallback")."""
        return sorted({p.recommendation.completeness for p in self.pages if p.recommendation})


def preview(
    feed: str,
    *,
    kind: str = "anonymous",
    username: str = "",
    visitor_id: str = "",
    interests: str = "",
    context_page: Page | None = None,
    limit: int = 10,
) -> PreviewResult:
    """Rank ``feed`` for the described reader (see the module docstring)."""
    config = get_feed_config(feed)
    if kind == "user":
        user = get_user_model()._default_manager.filter(username=username.strip()).first()
        if user is None:
            raise PreviewError(_("No user with the username “%s”.") % username)
        reader = Reader.objects.filter(user=user).first()
        pages = recommend(user, feed=config.slug, limit=limit, context_page=context_page)
        return PreviewResult(pages, _("user %s") % user.get_username(), _profiles(reader))
    if kind == "visitor":
        try:
            visitor = uuid.UUID(visitor_id.strip())
        except ValueError:
            example = "0f8fad5b-d9cb-469f-a165-70867728950e"
            raise PreviewError(_("A visitor id looks like %s.") % example) from None
        reader = Reader.objects.filter(visitor_id=visitor).first()
        if reader is None:
            raise PreviewError(_("No visitor with the id %s.") % visitor)
        pages = recommend(reader, feed=config.slug, limit=limit, context_page=context_page)
        return PreviewResult(pages, _("visitor %s") % visitor, _profiles(reader))
    if kind == "interests":
        return _preview_interests(config.slug, interests, context_page=context_page, limit=limit)
    pages = recommend(None, feed=config.slug, limit=limit, context_page=context_page)
    return PreviewResult(pages, _("a new anonymous reader"))


def _profiles(reader: Reader | None) -> list[str]:
    if reader is None:
        return []
    return list(
        ReaderProfile.objects.filter(reader=reader, vector__isnull=False)
        .order_by("feed")
        .values_list("feed", flat=True)
    )


def _preview_interests(slug: str, interests: str, *, context_page, limit: int) -> PreviewResult:
    text = " ".join(interests.split())
    if not text:
        raise PreviewError(_("Type a few words the reader is interested in."))
    if read_alias() != "default":
        raise PreviewError(
            _("Previewing typed interests needs ranking reads on the default database.")
        )
    vector = get_encoder().embed_documents([text])[0]
    with transaction.atomic():
        reader = Reader.objects.create(visitor_id=uuid.uuid4())
        ReaderProfile.objects.create(
            reader=reader,
            feed=slug,
            vector=vector,
            sum_vector=vector,
            reference_time=timezone.now(),
            interaction_count=1,
        )
        pages = recommend(reader, feed=slug, limit=limit, context_page=context_page)
        transaction.set_rollback(True)  # the reader and profile never existed
    return PreviewResult(pages, _("a new reader interested in “%s”") % text, [slug])
