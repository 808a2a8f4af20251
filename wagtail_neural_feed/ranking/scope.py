"""Round trip 1: what a list needs to know before it is ranked.

One ``SELECT`` sets the HNSW search settings for this connection and reads
the reader's profile (or a parent feed's), the context page's embedding, the
site and section paths, the locale, the popularity normaliser, the hot tier's
coverage, the restricted paths this reader may not see and the size of the
embedding table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from wagtail.models import Locale, PageViewRestriction, Site

from ..compat import get_page_model
from ..conf import neural_feed_settings
from ..feeds import FeedConfig, profile_feed_chain
from ..models import HotTier, PageEmbedding, PagePopularity, Reader, ReaderProfile
from ..scope_indexes import index_name, site_key_sql
from ..statements import column_name, parse_vector, run_statement, table_name
from ..vectors import has_direction, normalise
from .audience import Audience


@dataclass(frozen=True)
class HotState:
    """The hot tier's coverage as of its last refresh (see ``hot.py``)."""

    refreshed_at: datetime
    fresh_after: datetime
    score_above: float


@dataclass
class Scope:
    """What round trip 1 learned about a list."""

    reader_id: int | None
    profile: np.ndarray | None
    context: np.ndarray | None
    #: Tree paths of the site's root page in every locale; empty = no site filter.
    site_paths: tuple[str, ...]
    section_path: str | None
    locale_id: int | None
    popularity_max: float
    hot: HotState | None = None
    #: Paths of restricted pages this reader may not see; None = anonymous
    #: (every restricted page is hidden).
    blocked_paths: tuple[str, ...] | None = None
    #: PostgreSQL's estimate of the embedding table's rows (-1: not yet known).
    embedded_pages: float = -1.0
    #: The page the list is shown on: what a context list's co-read term is about,
    #: and whose words feed the lexical signal of a re-scored similar list.
    context_page_id: int | None = None
    #: Rows of the scope's own partial index (a site or locale of a shared
    #: table, see ``scope_indexes``); None when it has none.
    scope_pages: float | None = None

    @property
    def pages(self) -> float:
        """The pages a list of this scope chooses from (estimate; -1: unknown)."""
        return self.embedded_pages if self.scope_pages is None else self.scope_pages


def load_scope(
    config: FeedConfig,
    audience: Audience,
    *,
    context_page_id: int | None = None,
    personalise: bool = True,
) -> Scope:
    """Set the HNSW search settings and read the reader's profile and the list's scope.

    The settings are session-level (``set_config(..., false)``) so that they
    hold for the ranking statement that follows outside a transaction; they
    affect only HNSW index scans on this connection.
    """
    params: dict = {
        "ef_search": str(int(neural_feed_settings.HNSW_EF_SEARCH)),
        "max_scan": str(int(neural_feed_settings.HNSW_MAX_SCAN_TUPLES)),
        "chain": list(profile_feed_chain(config)) if personalise else [],
        "context": context_page_id,
        "site_root": audience.site_root_id,
        "section": config.root_page_id,
        "language": audience.language_code,
        "locale": audience.locale_id,
    }
    page_table = table_name(get_page_model())
    embedding_table = table_name(PageEmbedding)
    if audience.is_authenticated or audience.passed_restrictions:
        blocked_sql = _blocked_paths_sql(audience, params)
    else:
        blocked_sql = "SELECT NULL::text[]"
    sql = f"""
        WITH reader AS ({_reader_sql(audience, params, personalise)}),
        site AS (SELECT ({_site_paths_sql(audience, context_page_id)}) AS paths),
        list_locale AS (SELECT ({_locale_sql(audience, context_page_id)}) AS id)
        SELECT
            set_config('hnsw.ef_search', %(ef_search)s, false),
            set_config('hnsw.iterative_scan', 'relaxed_order', false),
            set_config('hnsw.max_scan_tuples', %(max_scan)s, false),
            (SELECT id FROM reader LIMIT 1),
            (SELECT p.vector FROM {table_name(ReaderProfile)} p
              WHERE p.reader_id = (SELECT id FROM reader LIMIT 1)
                AND p.feed = ANY(%(chain)s) AND p.vector IS NOT NULL
              ORDER BY array_position(%(chain)s::text[], p.feed::text) LIMIT 1),
            (SELECT embedding FROM {embedding_table}
              WHERE page_id = %(context)s AND status = 'ready'),
            (SELECT paths FROM site),
            (SELECT path FROM {page_table} WHERE id = %(section)s),
            (SELECT id FROM list_locale),
            (SELECT score FROM {table_name(PagePopularity)} ORDER BY score DESC LIMIT 1),
            hot.refreshed_at, hot.fresh_after, hot.score_above,
            ({blocked_sql}),
            (SELECT reltuples FROM pg_class WHERE oid = '{embedding_table}'::regclass),
            ({_scope_pages_sql()})
        FROM (SELECT 1) one
        LEFT JOIN {table_name(HotTier)} hot ON hot.id = 1
    """
    (row,) = run_statement(sql, params, many=False, binary=True)
    _, _, _, reader_id, profile, context, site_paths, section_path, locale_id, pop_max = row[:10]
    refreshed_at, fresh_after, score_above, blocked_paths, embedded_pages, scope_pages = row[10:]
    hot = None
    if refreshed_at is not None and neural_feed_settings.HOT_TIER:
        hot = HotState(refreshed_at, fresh_after, float(score_above))
    return Scope(
        reader_id=reader_id,
        profile=parse_vector(profile),
        context=parse_vector(context),
        site_paths=tuple(site_paths or ()),
        section_path=section_path,
        locale_id=locale_id,
        popularity_max=max(float(pop_max or 0.0), 0.0),
        hot=hot,
        blocked_paths=None if blocked_paths is None else tuple(blocked_paths),
        embedded_pages=-1.0 if embedded_pages is None else float(embedded_pages),
        context_page_id=context_page_id,
        scope_pages=None if scope_pages is None else float(scope_pages),
    )


def _scope_pages_sql() -> str:
    """Rows of the smallest partial index of the list's site or locale, if it has one.

    The index names are derived from the scope (see ``scope_indexes``), so
    finding them needs no registry; a name that resolves to nothing adds nothing.
    """
    site = site_key_sql("(SELECT paths FROM site)")
    return f"""SELECT min(c.reltuples) FROM pg_class c
            WHERE c.oid IN (to_regclass('{index_name("e", "")}' || {site}),
                            to_regclass('{index_name("e", "l")}' || (SELECT id FROM list_locale)))
              AND c.reltuples >= 0"""


def _reader_sql(audience: Audience, params: dict, personalise: bool) -> str:
    """The reader's id, looked up by user or visitor inside the same statement."""
    if not personalise:
        return "SELECT NULL::bigint AS id"
    if audience.reader_id is not None:
        params["reader"] = audience.reader_id
        return "SELECT %(reader)s::bigint AS id"
    if audience.user_id is not None:
        params["user"] = audience.user_id
        return f"SELECT id FROM {table_name(Reader)} WHERE user_id = %(user)s"
    if audience.visitor_id is not None:
        params["visitor"] = audience.visitor_id
        return f"SELECT id FROM {table_name(Reader)} WHERE visitor_id = %(visitor)s::uuid"
    return "SELECT NULL::bigint AS id"


def _site_paths_sql(audience: Audience, context_page_id: int | None) -> str:
    """Tree paths of the list's site root in every locale.

    The site is its root page and that page's translations (Wagtail keeps
    each locale's tree under its own copy of the root): the reader's site,
    else the site holding the context page, else the default site.
    """
    page_table = table_name(get_page_model())
    if audience.site_root_id is not None:
        site_key_sql = f"SELECT translation_key FROM {page_table} WHERE id = %(site_root)s"
    elif context_page_id is not None:
        site_key_sql = f"""
            SELECT root.translation_key FROM {table_name(Site)} s
            JOIN {page_table} root ON root.id = s.root_page_id
            JOIN {page_table} tr ON tr.translation_key = root.translation_key
            JOIN {page_table} ctx ON ctx.id = %(context)s
            WHERE ctx.path LIKE tr.path || '%%'
            ORDER BY length(tr.path) DESC LIMIT 1"""
    else:
        site_key_sql = f"""
            SELECT root.translation_key FROM {table_name(Site)} s
            JOIN {page_table} root ON root.id = s.root_page_id
            WHERE s.is_default_site LIMIT 1"""
    site_sql = f"""SELECT array_agg(path) FROM {page_table}
        WHERE translation_key = ({site_key_sql})"""
    if context_page_id is None:
        return site_sql
    # A context page outside every site is kept to its own tree.
    return f"""SELECT COALESCE(({site_sql}),
            (SELECT ARRAY[substr(path, 1, 8)] FROM {page_table} WHERE id = %(context)s))"""


def _locale_sql(audience: Audience, context_page_id: int | None) -> str:
    """The list's locale: given, else the context page's, else the active language's."""
    if not getattr(settings, "WAGTAIL_I18N_ENABLED", False):
        return "SELECT NULL::bigint"
    if audience.locale_id is not None:
        return "SELECT %(locale)s::bigint"
    if context_page_id is not None:
        return f"SELECT locale_id FROM {table_name(get_page_model())} WHERE id = %(context)s"
    return f"SELECT id FROM {table_name(Locale)} WHERE language_code = %(language)s"


def _blocked_paths_sql(audience: Audience, params: dict) -> str:
    """Tree paths of the restricted pages this reader does not pass.

    Deciding the restrictions once, before ranking, keeps the ranking
    statement's filter a plain prefix test (and cheap to plan, in every
    candidate source).
    """
    params["passed"] = list(audience.passed_restrictions)
    params["authenticated"] = audience.is_authenticated
    params["superuser"] = audience.is_superuser
    params["user_id"] = audience.user_id
    restriction_groups = PageViewRestriction.groups.through
    user_model = get_user_model()
    if hasattr(user_model, "groups") and audience.user_id is not None:
        user_groups = user_model.groups.through
        in_group = f"""EXISTS (
            SELECT 1 FROM {table_name(restriction_groups)} rg JOIN {table_name(user_groups)} ug
              ON ug.{column_name(user_groups, "group")}
                 = rg.{column_name(restriction_groups, "group")}
            WHERE rg.{column_name(restriction_groups, "pageviewrestriction")} = r.id
              AND ug.{column_name(user_groups, "user")} = %(user_id)s)"""
    else:
        in_group = "false"
    return f"""SELECT COALESCE(array_agg(DISTINCT rp.path), ARRAY[]::text[])
        FROM {table_name(PageViewRestriction)} r
        JOIN {table_name(get_page_model())} rp ON rp.id = r.page_id
        WHERE NOT (
            r.restriction_type = 'none'
            OR (r.restriction_type = 'login' AND %(authenticated)s)
            OR (r.restriction_type = 'groups' AND (%(superuser)s OR {in_group}))
            OR (r.restriction_type = 'password' AND r.id = ANY(%(passed)s)))"""


def query_vector(config: FeedConfig, scope: Scope) -> np.ndarray | None:
    """The vector to search with: the profile, blended with the context page.

    A reader without a profile gets the context page alone when the feed's
    cold start allows it.
    """
    profile = scope.profile if has_direction(scope.profile) else None
    context = scope.context if has_direction(scope.context) else None
    if profile is not None and context is not None and config.context_weight > 0:
        vector = (1 - config.context_weight) * normalise(profile) + (
            config.context_weight * normalise(context)
        )
    elif profile is not None:
        vector = profile
    elif context is not None and "context" in config.cold_start:
        vector = context
    else:
        return None
    return normalise(vector) if has_direction(vector) else None
