"""The one service behind blocks, template tags and the JSON API: a rendered list.

:func:`recommendation_list` asks the public :func:`~wagtail_neural_feed.recommend`
or :func:`~wagtail_neural_feed.similar_pages` for pages, puts the editor's
picks first, caches personal lists briefly (see :mod:`.list_cache`) and gives
every list its own id and signed token, so impressions and clicks report
exactly what was shown. Every surface calls it, so they never disagree.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from wagtail.models import Page, PageViewRestriction, Site

from . import list_cache
from .admin_feeds import site_settings
from .api import MAX_LIMIT, recommend, similar_pages
from .exceptions import InvalidRecommendationRequest, UnknownFeed
from .feeds import DEFAULT_FEED_SLUG, FeedConfig, get_feed_config
from .list_cache import bump_reader_version
from .models import EmbeddingStatus, PageEmbedding, Reader, ReaderProfile
from .ranking import Recommendation
from .tracking import list_token, reader_for, visitor_id

logger = logging.getLogger(__name__)

__all__ = ["RecommendationList", "bump_reader_version", "recommendation_list"]

#: ``Recommendation.completeness`` of a page the editor picked.
PICKED = "editor's pick"
SIMILAR_SLUG = "similar"
SIMILAR_TITLE = _("More like this")


@dataclass
class RecommendationList:
    """One list as rendered: pages in order plus what the tracker needs.

    Iterates, indexes and is truthy like its pages, so templates can loop over
    it directly and still read ``pages.list_token``.
    """

    pages: list[Page]
    feed: str
    title: str
    kind: str = "recommended"  # or "similar"
    context_page_id: int | None = None
    #: Whether the list depends on who reads it (then the page is private).
    personal: bool = False
    list_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    list_token: str = ""

    def __post_init__(self) -> None:
        if not self.list_token:
            self.list_token = list_token(
                self.list_id, self.feed, [page.pk for page in self.pages], self.context_page_id
            )

    def __iter__(self) -> Iterator[Page]:
        return iter(self.pages)

    def __len__(self) -> int:
        return len(self.pages)

    def __bool__(self) -> bool:
        return bool(self.pages)

    def __getitem__(self, index: Any) -> Any:
        return self.pages[index]


def recommendation_list(
    request_or_reader: Any = None,
    *,
    feed: str | FeedConfig | None = None,
    limit: int = 6,
    context_page: Page | None = None,
    similar_to: Page | None = None,
    picks: Iterable[Page | int] = (),
    personalise_picks: bool = False,
) -> RecommendationList:
    """The list a surface renders for this reader.

    ``similar_to`` makes a "More like this" list (the reader's profile is not
    used). ``picks`` are editor's picks: those the reader may see come first,
    in the editor's order or, with ``personalise_picks``, closest to the
    reader's profile first; the feed fills the rest. The context page is never
    in the list. Raises ``UnknownFeed`` / ``InvalidRecommendationRequest``.
    """
    _check_limit(limit)
    similar = similar_to is not None
    if similar:
        context_page = similar_to
        config = None if feed in (None, "") else get_feed_config(feed)
        slug, title = (config.slug, config.title) if config else (SIMILAR_SLUG, SIMILAR_TITLE)
    request = request_or_reader if isinstance(request_or_reader, HttpRequest) else None
    if not similar:
        config = _feed_config(feed, request)
        slug, title = config.slug, config.title
    context_id = context_page.pk if context_page is not None else None
    pick_ids = () if similar else _unique_ids(picks, skip=context_id)
    identity = reader_identity(request_or_reader)
    if similar and not identity.startswith("u"):
        # Only what a reader may see varies a "More like this" list, and a
        # visitor cookie does not change that.
        identity = list_cache.ANONYMOUS
    # The whole config, not just its slug: a feed edited in the admin misses the cache.
    keyed = config if config is not None else slug
    parts = _key_parts(request, keyed, similar, context_id, limit, pick_ids, personalise_picks)
    # A session that opened a password-protected page may see it listed: private too.
    personal = identity != list_cache.ANONYMOUS or bool(parts[-1])
    pages, key = list_cache.get_list(identity, parts)
    if pages is None:
        if similar:
            pages = similar_pages(similar_to, limit=limit, feed=config, reader=request_or_reader)
        else:
            pages = _with_picks(
                request_or_reader, config, limit, context_page, pick_ids, personalise_picks
            )
            if len(pages) < limit:
                pages += recommend(
                    request_or_reader,
                    feed=config,
                    limit=limit - len(pages),
                    context_page=context_page,
                    exclude=[page.pk for page in pages],
                )
            for rank, page in enumerate(pages, start=1):
                page.recommendation = replace(page.recommendation, rank=rank)
        list_cache.set_list(key, pages)
    if request is not None:
        _mark_request(request, personal=personal)
    return RecommendationList(
        pages=list(pages),
        feed=slug,
        title=str(title),
        kind="similar" if similar else "recommended",
        context_page_id=context_id,
        personal=personal,
    )


def reader_identity(request_or_reader: Any) -> str:
    """``"u<user id>"``, ``"v<visitor id>"`` or ``"anonymous"``; no database query."""
    if isinstance(request_or_reader, HttpRequest):
        user = getattr(request_or_reader, "user", None)
        if user is not None and user.is_authenticated:
            return f"u{user.pk}"
        visitor = visitor_id(request_or_reader)
        return f"v{visitor}" if visitor else list_cache.ANONYMOUS
    if isinstance(request_or_reader, Reader):
        if request_or_reader.user_id:
            return f"u{request_or_reader.user_id}"
        return f"v{request_or_reader.visitor_id}"
    if getattr(request_or_reader, "is_authenticated", False):
        return f"u{request_or_reader.pk}"
    return list_cache.ANONYMOUS


def _feed_config(feed: str | FeedConfig | None, request: HttpRequest | None) -> FeedConfig:
    """The named feed, else the one the site's admins chose for lists that name none
    (Recommendation settings), else the default feed. One registry read."""
    if feed:
        return get_feed_config(feed)
    slug = None
    if request is not None:
        site = getattr(request, "_wagtail_site", None) or Site.find_for_request(request)
        slug = site_settings(site.pk if site is not None else None).default_feed
    if slug:
        try:
            return get_feed_config(slug)
        except UnknownFeed:
            pass  # a deleted feed: the default
    return get_feed_config(None)


def _check_limit(limit: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRecommendationRequest(
            f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}."
        )


def _unique_ids(picks: Iterable[Page | int | None], *, skip: int | None) -> tuple[int, ...]:
    ids: dict[int, None] = {}
    for pick in picks:
        pk = pick if isinstance(pick, int) else getattr(pick, "pk", None)
        if pk is not None and pk != skip:
            ids[pk] = None
    return tuple(ids)


def _key_parts(request, slug, similar, context_id, limit, pick_ids, personalise_picks) -> tuple:
    """Everything besides the reader that changes a list (the site, language and
    the password-protected sections this session has opened)."""
    site_id = passed = None
    if request is not None:
        site = getattr(request, "_wagtail_site", None) or Site.find_for_request(request)
        site_id = site.pk if site is not None else None
        passed = tuple(sorted(_passed_restrictions(request)))
    return (
        slug,
        similar,
        context_id,
        limit,
        pick_ids,
        personalise_picks,
        translation.get_language(),
        site_id,
        passed,
    )


def _passed_restrictions(request: HttpRequest) -> list[int]:
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    if session is None or not (
        (user is not None and user.is_authenticated)
        or settings.SESSION_COOKIE_NAME in request.COOKIES
    ):
        return []  # reading an unsaved session would create one
    return list(session.get(PageViewRestriction.passed_view_restrictions_session_key, ()))


def _mark_request(request: HttpRequest, *, personal: bool) -> None:
    """Remember for :class:`~wagtail_neural_feed.middleware.PrivateListsMiddleware`
    that this response holds a list, and whether it is personal."""
    request.neural_feed_lists = True
    request.neural_feed_personal = getattr(request, "neural_feed_personal", False) or personal


# --- editor's picks ---------------------------------------------------------------


def _with_picks(request_or_reader, config, limit, context_page, pick_ids, personalise) -> list:
    """The picks the reader may see, as recommended pages, first in the list."""
    if not pick_ids:
        return []
    request = request_or_reader if isinstance(request_or_reader, HttpRequest) else None
    chosen = visible_pages(pick_ids, request)[:limit]
    scores = _profile_similarities(chosen, request_or_reader, config) if personalise else {}
    if scores:
        unknown = -2.0  # below any cosine: picks without an embedding keep their order last
        chosen.sort(key=lambda page: -scores.get(page.pk, unknown))
    return [_as_pick(page, config.slug, scores.get(page.pk)) for page in chosen]


def visible_pages(page_ids: Iterable[int], request: HttpRequest | None) -> list[Page]:
    """The live pages among ``page_ids`` this request may see, specific, in the given order.

    Wagtail's view restrictions apply as when the page is served: a page
    under a restriction shows only if the request passes it (logged in, in
    the group, or the password entered in this session). Without a request
    only unrestricted pages show.
    """
    page_ids = list(page_ids)
    pages = {page.pk: page for page in Page.objects.live().filter(pk__in=page_ids).specific()}
    if not pages:
        return []
    prefixes = {
        page.path[:end]
        for page in pages.values()
        for end in range(Page.steplen, len(page.path) + 1, Page.steplen)
    }
    restrictions = list(
        PageViewRestriction.objects.filter(page__path__in=prefixes)
        .select_related("page")
        .prefetch_related("groups")
    )
    visible = []
    for pk in page_ids:
        page = pages.get(pk)
        if page is None:
            continue
        applying = [r for r in restrictions if page.path.startswith(r.page.path)]
        if all(_passes(restriction, request) for restriction in applying):
            visible.append(page)
    return visible


def _passes(restriction: PageViewRestriction, request: HttpRequest | None) -> bool:
    if request is None:
        return False
    if not hasattr(request, "user") or (
        restriction.restriction_type == restriction.PASSWORD and not hasattr(request, "session")
    ):
        return False
    return restriction.accept_request(request)


def _profile_similarities(pages: list[Page], request_or_reader, config) -> dict[int, float]:
    """Cosine between each page and the reader's profile for this feed (or its
    parent's, or the default feed's); empty when the reader has no profile."""
    reader = _reader(request_or_reader)
    if reader is None:
        return {}
    chain = [config.slug, *([config.parent] if config.parent else []), DEFAULT_FEED_SLUG]
    profiles = dict(
        ReaderProfile.objects.filter(
            reader=reader, feed__in=chain, vector__isnull=False
        ).values_list("feed", "vector")
    )
    profile = next((profiles[slug] for slug in chain if slug in profiles), None)
    if profile is None:
        return {}
    profile = np.asarray(profile, dtype=np.float64)
    embeddings = PageEmbedding.objects.filter(
        page_id__in=[page.pk for page in pages],
        status=EmbeddingStatus.READY,
        embedding__isnull=False,
    ).values_list("page_id", "embedding")
    scores = {}
    for page_id, embedding in embeddings:
        vector = np.asarray(embedding, dtype=np.float64)
        norm = float(np.linalg.norm(vector) * np.linalg.norm(profile))
        scores[page_id] = float(vector @ profile) / norm if norm > 0 else 0.0
    return scores


def _reader(request_or_reader: Any) -> Reader | None:
    if isinstance(request_or_reader, Reader):
        return request_or_reader
    if isinstance(request_or_reader, HttpRequest):
        return reader_for(request_or_reader, create=False)
    if getattr(request_or_reader, "is_authenticated", False):
        return Reader.objects.filter(user=request_or_reader).first()
    return None


def _as_pick(page: Page, feed: str, similarity: float | None) -> Page:
    page.recommendation = Recommendation(
        feed=feed,
        rank=0,
        score=similarity or 0.0,
        similarity=similarity or 0.0,
        freshness=0.0,
        popularity=0.0,
        completeness=PICKED,
    )
    return page
