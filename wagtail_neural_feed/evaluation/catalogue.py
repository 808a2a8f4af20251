"""The fast engine's catalogue: every embedded page, loaded once, and the feed's filters on it.

The ranking statement filters ``PageEmbedding`` rows with
:func:`~wagtail_neural_feed.ranking.filters.eligibility_sql`; here the same
columns sit in arrays (page ids ascending, so "ties by page id" is "ties by
position") and the same filters are boolean masks. What changes during the
replay (published by ``t``, already read, the context page) is applied per
event by the engine; what does not (status, live at the start, visibility,
site, section, locale, page types) is one mask per feed, computed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings
from wagtail.models import Site

from ..compat import get_page_model
from ..feeds import DEFAULT_FEED_SLUG, FeedConfig
from ..models import PageEmbedding
from ..pagetypes import content_type_ids
from ..ranking import Audience, load_scope
from ..statements import parse_vector, run_statement, table_name


@dataclass(frozen=True)
class ListScope:
    """The part of round trip 1 the filters need: site, section and locale."""

    site_paths: tuple[str, ...]
    section_path: str | None
    locale_id: int | None


@dataclass
class Catalogue:
    """Every ready, embedded page: ids ascending, raw vectors, filter columns."""

    page_ids: np.ndarray
    vectors: np.ndarray  # float32, one row a page, as stored
    norms: np.ndarray  # float64 Euclidean norms of ``vectors``
    published: np.ndarray  # seconds after the replay's base time; NaN = never
    live: np.ndarray  # live before the replay hid anything
    restricted: np.ndarray
    content_types: np.ndarray
    locales: np.ndarray  # -1 = none
    paths: list[str]
    #: (site root path, every locale's root path of that site), longest first.
    sites: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    _masks: dict = field(default_factory=dict)
    _sections: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.page_ids)

    def index_of(self, page_ids) -> np.ndarray:
        """Positions of ``page_ids`` in the catalogue (-1 where absent)."""
        wanted = np.asarray(page_ids, dtype=np.int64)
        found = np.searchsorted(self.page_ids, wanted)
        found = np.minimum(found, max(len(self.page_ids) - 1, 0))
        ok = len(self.page_ids) > 0
        hit = (self.page_ids[found] == wanted) if ok else np.zeros(len(wanted), dtype=bool)
        return np.where(hit, found, -1)

    # --- the filters -----------------------------------------------------------

    def base_mask(self, config: FeedConfig, scope: ListScope) -> np.ndarray:
        """Pages ``config`` may list in ``scope`` whatever the time and the reader
        (live at the start, public, in the site, section, locale and page types)."""
        key = (config.page_types, config.root_page_id, scope)
        mask = self._masks.get(key)
        if mask is None:
            mask = self.live & ~self.restricted
            if scope.site_paths:
                mask &= self._prefixed(scope.site_paths)
            if config.root_page_id is not None:
                if scope.section_path:
                    mask &= self._prefixed((scope.section_path,))
                else:
                    mask &= False
            if scope.locale_id is not None:
                mask &= self.locales == int(scope.locale_id)
            if config.page_types:
                mask &= np.isin(self.content_types, content_type_ids(config.page_types))
            self._masks[key] = mask
        return mask

    def profile_mask(self, config: FeedConfig) -> np.ndarray | None:
        """Pages whose interactions count for ``config``'s profile
        (:func:`~wagtail_neural_feed.profiles.feed_accepts`); None = all."""
        if config.slug == DEFAULT_FEED_SLUG:
            return None
        key = ("profile", config.page_types, config.root_page_id)
        mask = self._masks.get(key)
        if mask is None:
            mask = np.ones(len(self), dtype=bool)
            if config.page_types:
                mask &= np.isin(self.content_types, content_type_ids(config.page_types))
            if config.root_page_id is not None:
                root = self.section_path(config.root_page_id)
                mask &= self._prefixed((root,)) if root is not None else False
            self._masks[key] = mask
        return mask

    def _prefixed(self, prefixes: tuple[str, ...]) -> np.ndarray:
        return np.fromiter(
            (path.startswith(prefixes) for path in self.paths), dtype=bool, count=len(self)
        )

    def section_path(self, page_id: int) -> str | None:
        if page_id not in self._sections:
            self._sections[page_id] = (
                get_page_model().objects.filter(pk=page_id).values_list("path", flat=True).first()
            )
        return self._sections[page_id]

    def scope_for(self, config: FeedConfig, context: int | None, default: ListScope) -> ListScope:
        """The list's scope with ``context`` as the context page (round trip 1's site and
        locale rules: the site holding the context page, else its own tree)."""
        if context is None:
            return default
        index = int(self.index_of([context])[0])
        if index < 0:
            return default
        path = self.paths[index]
        site_paths = next(
            (group for root, group in self.sites if path.startswith(root)), (path[:8],)
        )
        locale = None
        if getattr(settings, "WAGTAIL_I18N_ENABLED", False) and self.locales[index] >= 0:
            locale = int(self.locales[index])
        return ListScope(site_paths, default.section_path, locale)


def default_scope(config: FeedConfig) -> ListScope:
    """Round trip 1 for a list without a reader or a context page."""
    scope = load_scope(config, Audience(), personalise=False)
    return ListScope(scope.site_paths, scope.section_path, scope.locale_id)


def load_catalogue(base: datetime) -> Catalogue:
    """Read every ready, embedded page (one statement); times relative to ``base``."""
    rows = run_statement(
        f"""SELECT page_id, embedding, content_type_id, path, COALESCE(locale_id, -1),
            view_restricted, live,
            extract(epoch FROM first_published_at - %(base)s::timestamptz)::float8
        FROM {table_name(PageEmbedding)}
        WHERE status = 'ready' AND embedding IS NOT NULL ORDER BY page_id""",
        {"base": base},
        binary=True,
    )
    count = len(rows)
    vectors = np.stack([parse_vector(row[1]) for row in rows]) if rows else np.zeros((0, 1))
    vectors = vectors.astype(np.float32)
    published = np.array([np.nan if row[7] is None else row[7] for row in rows], dtype=float)
    return Catalogue(
        page_ids=np.array([row[0] for row in rows], dtype=np.int64),
        vectors=vectors,
        norms=np.linalg.norm(vectors.astype(np.float64), axis=1) if count else np.zeros(0),
        published=published,
        live=np.array([row[6] for row in rows], dtype=bool),
        restricted=np.array([row[5] for row in rows], dtype=bool),
        content_types=np.array([row[2] for row in rows], dtype=np.int64),
        locales=np.array([row[4] for row in rows], dtype=np.int64),
        paths=[row[3] for row in rows],
        sites=_site_groups(),
    )


def _site_groups() -> list[tuple[str, tuple[str, ...]]]:
    """Every site's root paths (one per locale), keyed by each root path, longest first."""
    page_model = get_page_model()
    groups = []
    for key in Site.objects.values_list("root_page__translation_key", flat=True):
        paths = tuple(page_model.objects.filter(translation_key=key).values_list("path", flat=True))
        groups += [(path, paths) for path in paths]
    return sorted(groups, key=lambda group: -len(group[0]))
