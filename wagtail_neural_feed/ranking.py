"""The ranking SQL: one statement that picks and scores a feed's pages.

A list costs two round trips:

1. :func:`prepare` sets the HNSW search settings for this connection and reads,
   in one ``SELECT``, what the ranking needs to know first: the reader's
   profile (or a parent feed's), the context page's embedding, the site and
   section paths and the popularity normaliser.
2. :func:`ranking_statement` builds the ranking statement: nearest-neighbour
   candidates from the HNSW index (pgvector's iterative scan keeps filtered
   lists full) and from the hot tier of recent and popular pages, re-scored as
   ``w_sim·similarity + w_fresh·exp(-ln2·age/half_life) + w_pop·popularity``,
   proven complete or completed by index range scans, and ordered.

Both run through :mod:`.statements` (prepared, native placeholders, binary
vectors).

Every candidate source applies the same eligibility filter (live, embedded,
visible to this reader, same site, section, locale, page types, exclusions),
so nothing the reader may not see can enter the list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.utils import timezone
from wagtail.models import Locale, PageViewRestriction, Site

from .compat import get_page_model
from .conf import neural_feed_settings
from .exceptions import NeuralFeedConfigurationError
from .feeds import FeedConfig, profile_feed_chain
from .indexing import is_recommendable
from .models import (
    HotPage,
    HotTier,
    Interaction,
    PageEmbedding,
    PagePopularity,
    Reader,
    ReaderProfile,
)
from .statements import QueryVector, parse_vector, read_alias, run_statement

SECONDS_PER_DAY = 86400.0
#: When the hot tier's first k nearest pages cannot settle the list, read this
#: many times deeper into the tier before the (slower) range-scan fallback.
HOT_DEEPER_FACTOR = 4


@dataclass(frozen=True)
class Audience:
    """Who a list is for and where they are: decides what may be shown.

    Identify the reader by ``reader_id``, or by ``user_id`` / ``visitor_id``
    (resolved inside the first query, saving a round trip).
    """

    reader_id: int | None = None
    user_id: int | None = None
    visitor_id: str | None = None
    is_authenticated: bool = False
    is_superuser: bool = False
    #: Ids of password restrictions this session has passed.
    passed_restrictions: tuple[int, ...] = ()
    #: Root page of the reader's site; None = found from the context page, else the default site.
    site_root_id: int | None = None
    #: Locale of the list; None = the context page's, else the active language's.
    locale_id: int | None = None
    language_code: str | None = None


@dataclass
class Prepared:
    """What the first round trip learned."""

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


@dataclass(frozen=True)
class HotState:
    """The hot tier's coverage as of its last refresh (see ``hot.py``)."""

    refreshed_at: datetime
    fresh_after: datetime
    score_above: float


@dataclass
class RankedRow:
    page_id: int
    content_type_id: int
    path: str
    similarity: float
    freshness: float
    popularity: float
    score: float
    embedding: np.ndarray | None = field(default=None, repr=False)
    #: How the list was shown complete: "hot tier" (the bound held), "fallback"
    #: (the range scans ran), "exact" (a small site, every page scored), or ""
    #: (no bonus to account for).
    completeness: str = ""


def vector_literal(vector: np.ndarray) -> str:
    values = np.asarray(vector, dtype=np.float64).tolist()
    # %-formatting of plain floats is twice as fast as format() over numpy scalars.
    return "[" + ",".join(["%.7g" % x for x in values]) + "]"  # noqa: UP031


def normalise(vector: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return (vector / norm).astype(np.float32)


def _table(model) -> str:
    return connections[read_alias()].ops.quote_name(model._meta.db_table)


def _column(model, field_name: str) -> str:
    return connections[read_alias()].ops.quote_name(model._meta.get_field(field_name).column)


# --- round trip 1 -----------------------------------------------------------


def prepare(
    config: FeedConfig,
    audience: Audience,
    *,
    context_page_id: int | None = None,
    personalise: bool = True,
) -> Prepared:
    """Set the HNSW search settings and read the reader's profile and the list's scope.

    The settings are session-level (``set_config(..., false)``) so that they
    hold for the ranking statement that follows outside a transaction; they
    affect only HNSW index scans on this connection.
    """
    page_table = _table(get_page_model())
    embedding_table = _table(PageEmbedding)
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
    if not personalise:
        reader_sql = "SELECT NULL::bigint AS id"
    elif audience.reader_id is not None:
        reader_sql = "SELECT %(reader)s::bigint AS id"
        params["reader"] = audience.reader_id
    elif audience.user_id is not None:
        reader_sql = f"SELECT id FROM {_table(Reader)} WHERE user_id = %(user)s"
        params["user"] = audience.user_id
    elif audience.visitor_id is not None:
        reader_sql = f"SELECT id FROM {_table(Reader)} WHERE visitor_id = %(visitor)s::uuid"
        params["visitor"] = audience.visitor_id
    else:
        reader_sql = "SELECT NULL::bigint AS id"

    # The site is its root page and that page's translations (Wagtail keeps
    # each locale's tree under its own copy of the root).
    if audience.site_root_id is not None:
        site_key_sql = f"SELECT translation_key FROM {page_table} WHERE id = %(site_root)s"
    elif context_page_id is not None:
        site_key_sql = f"""
            SELECT root.translation_key FROM {_table(Site)} s
            JOIN {page_table} root ON root.id = s.root_page_id
            JOIN {page_table} tr ON tr.translation_key = root.translation_key
            JOIN {page_table} ctx ON ctx.id = %(context)s
            WHERE ctx.path LIKE tr.path || '%%'
            ORDER BY length(tr.path) DESC LIMIT 1"""
    else:
        site_key_sql = f"""
            SELECT root.translation_key FROM {_table(Site)} s
            JOIN {page_table} root ON root.id = s.root_page_id
            WHERE s.is_default_site LIMIT 1"""
    site_sql = f"""SELECT array_agg(path) FROM {page_table}
        WHERE translation_key = ({site_key_sql})"""
    # A context page outside every site is kept to its own tree.
    if context_page_id is not None:
        site_sql = f"""SELECT COALESCE(({site_sql}),
            (SELECT ARRAY[substr(path, 1, 8)] FROM {page_table} WHERE id = %(context)s))"""

    if not _i18n_enabled():
        locale_sql = "SELECT NULL::bigint"
    elif audience.locale_id is not None:
        locale_sql = "SELECT %(locale)s::bigint"
    elif context_page_id is not None:
        locale_sql = f"SELECT locale_id FROM {page_table} WHERE id = %(context)s"
    else:
        locale_sql = f"SELECT id FROM {_table(Locale)} WHERE language_code = %(language)s"

    if audience.is_authenticated or audience.passed_restrictions:
        blocked_sql = _blocked_paths_sql(audience, params)
    else:
        blocked_sql = "SELECT NULL::text[]"

    sql = f"""
        WITH reader AS ({reader_sql})
        SELECT
            set_config('hnsw.ef_search', %(ef_search)s, false),
            set_config('hnsw.iterative_scan', 'relaxed_order', false),
            set_config('hnsw.max_scan_tuples', %(max_scan)s, false),
            (SELECT id FROM reader LIMIT 1),
            (SELECT p.vector FROM {_table(ReaderProfile)} p
              WHERE p.reader_id = (SELECT id FROM reader LIMIT 1)
                AND p.feed = ANY(%(chain)s) AND p.vector IS NOT NULL
              ORDER BY array_position(%(chain)s::text[], p.feed::text) LIMIT 1),
            (SELECT embedding FROM {embedding_table}
              WHERE page_id = %(context)s AND status = 'ready'),
            ({site_sql}),
            (SELECT path FROM {page_table} WHERE id = %(section)s),
            ({locale_sql}),
            (SELECT score FROM {_table(PagePopularity)} ORDER BY score DESC LIMIT 1),
            hot.refreshed_at, hot.fresh_after, hot.score_above,
            ({blocked_sql}),
            (SELECT reltuples FROM pg_class WHERE oid = '{embedding_table}'::regclass)
        FROM (SELECT 1) one
        LEFT JOIN {_table(HotTier)} hot ON hot.id = 1
    """
    (row,) = run_statement(sql, params, many=False, binary=True)
    _, _, _, reader_id, profile, context, site_paths, section_path, locale_id, pop_max = row[:10]
    refreshed_at, fresh_after, score_above, blocked_paths, embedded_pages = row[10:]
    hot = None
    if refreshed_at is not None and neural_feed_settings.HOT_TIER:
        hot = HotState(refreshed_at, fresh_after, float(score_above))
    return Prepared(
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
    )


def _i18n_enabled() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "WAGTAIL_I18N_ENABLED", False))


def query_vector(config: FeedConfig, prepared: Prepared) -> np.ndarray | None:
    """The vector to search with: the profile, blended with the context page.

    A reader without a profile gets the context page alone when the feed's
    cold start allows it.
    """
    profile, context = prepared.profile, prepared.context
    if profile is not None and context is not None and config.context_weight > 0:
        blended = (1 - config.context_weight) * normalise(profile) + (
            config.context_weight * normalise(context)
        )
        return normalise(blended)
    if profile is not None:
        return normalise(profile)
    if context is not None and "context" in config.cold_start:
        return normalise(context)
    return None


# --- round trip 2 -----------------------------------------------------------


def content_type_ids(page_types: Iterable[str]) -> list[int]:
    """Content types of the named page models and their recommendable subclasses."""
    from wagtail.models import get_page_models

    wanted = []
    for label in page_types:
        try:
            wanted.append(apps.get_model(label))
        except (LookupError, ValueError) as exc:
            raise NeuralFeedConfigurationError(f"Unknown page type {label!r}: {exc}") from exc
    models = [
        model
        for model in get_page_models()
        if is_recommendable(model) and any(issubclass(model, base) for base in wanted)
    ]
    if not models:
        return [-1]  # nothing can match: an honest empty list, not every type
    return [ct.id for ct in ContentType.objects.get_for_models(*models).values()]


def _blocked_paths_sql(audience: Audience, params: dict) -> str:
    """Tree paths of the restricted pages this reader does not pass (for round trip 1).

    Deciding the restrictions once, before ranking, keeps the ranking
    statement's filter a plain prefix test (and cheap to plan, in every
    candidate source).
    """
    params["passed"] = list(audience.passed_restrictions)
    params["authenticated"] = audience.is_authenticated
    params["superuser"] = audience.is_superuser
    params["user_id"] = audience.user_id
    restriction = _table(PageViewRestriction)
    restriction_groups = PageViewRestriction.groups.through
    group_table = _table(restriction_groups)
    user_model = get_user_model()
    if hasattr(user_model, "groups") and audience.user_id is not None:
        user_groups = user_model.groups.through
        in_group = f"""EXISTS (
            SELECT 1 FROM {group_table} rg JOIN {_table(user_groups)} ug
              ON ug.{_column(user_groups, "group")} = rg.{_column(restriction_groups, "group")}
            WHERE rg.{_column(restriction_groups, "pageviewrestriction")} = r.id
              AND ug.{_column(user_groups, "user")} = %(user_id)s)"""
    else:
        in_group = "false"
    page_table = _table(get_page_model())
    return f"""SELECT COALESCE(array_agg(DISTINCT rp.path), ARRAY[]::text[])
        FROM {restriction} r JOIN {page_table} rp ON rp.id = r.page_id
        WHERE NOT (
            r.restriction_type = 'none'
            OR (r.restriction_type = 'login' AND %(authenticated)s)
            OR (r.restriction_type = 'groups' AND (%(superuser)s OR {in_group}))
            OR (r.restriction_type = 'password' AND r.id = ANY(%(passed)s)))"""


def _visibility_sql(prepared: Prepared, params: dict) -> str | None:
    """Public pages, plus restricted pages whose every restriction this reader passes."""
    if prepared.blocked_paths is None:  # anonymous: every restriction applies
        return "NOT e.view_restricted"
    if not prepared.blocked_paths:
        return None
    params["blocked_prefixes"] = [path + "%" for path in prepared.blocked_paths]
    return "NOT (e.view_restricted AND e.path LIKE ANY(%(blocked_prefixes)s))"


def _read_pages_sql(config: FeedConfig, audience: Audience, reader_id, params: dict) -> str | None:
    """A NOT EXISTS clause hiding pages this reader already interacted with."""
    source = config.interaction_source
    if source in (None, "", "interactions"):
        if reader_id is None:
            return None
        params["reader_id"] = reader_id
        return f"""NOT EXISTS (SELECT 1 FROM {_table(Interaction)} i
            WHERE i.reader_id = %(reader_id)s AND i.page_id = e.page_id)"""
    if audience.user_id is None:
        return None
    table, user_column, page_column = source_columns(source)
    params["source_user"] = audience.user_id
    return f"""NOT EXISTS (SELECT 1 FROM {table} s
        WHERE s.{user_column} = %(source_user)s AND s.{page_column} = e.page_id)"""


def source_columns(source: dict) -> tuple[str, str, str]:
    """(table, user column, page column) of a site's own interaction model."""
    quote = connections[read_alias()].ops.quote_name
    try:
        model = apps.get_model(source["model"])
        if source.get("mode") == "m2m":
            m2m = model._meta.get_field(source["field"])
            through = m2m.remote_field.through
            page_model = get_page_model()
            page_side_is_source = issubclass(model, page_model)
            source_col, target_col = m2m.m2m_column_name(), m2m.m2m_reverse_name()
            user_col, page_col = (
                (target_col, source_col) if page_side_is_source else (source_col, target_col)
            )
            return quote(through._meta.db_table), quote(user_col), quote(page_col)
        if source.get("mode") == "model":
            user_col = model._meta.get_field(source.get("user_field", "user")).column
            page_col = model._meta.get_field(source.get("page_field", "page")).column
            return quote(model._meta.db_table), quote(user_col), quote(page_col)
    except (KeyError, LookupError, AttributeError) as exc:
        raise NeuralFeedConfigurationError(f"Invalid interaction_source {source!r}: {exc}") from exc
    raise NeuralFeedConfigurationError(
        f"interaction_source mode must be 'm2m' or 'model', not {source.get('mode')!r}"
    )


def _prefix_pattern(path: str) -> str:
    """A quoted LIKE pattern matching ``path`` and everything below it.

    ``%`` is doubled: the statement goes through psycopg's ``%(name)s`` formatting.
    """
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ("'" + escaped.replace("'", "''") + "%'").replace("%", "%%")


def eligibility_sql(
    config: FeedConfig,
    audience: Audience,
    prepared: Prepared,
    *,
    exclude: Sequence[int] = (),
    params: dict,
) -> str:
    """The WHERE clause every candidate source shares.

    The list's scope (site, section, locale, page types) is written into the
    statement as constants, not parameters: it is the same for every reader
    of a feed on a site, so the prepared statement is still reused, and the
    planner sees how selective each filter really is. (With parameters it
    would guess "0.5 % of the rows" for a tree-path prefix and sort the whole
    table instead of walking the HNSW index.)
    """
    clauses = ["e.status = 'ready'", "e.live", "e.embedding IS NOT NULL"]
    visibility = _visibility_sql(prepared, params)
    if visibility:
        clauses.append(visibility)
    if prepared.site_paths:
        prefixes = ", ".join(_prefix_pattern(path) for path in sorted(prepared.site_paths))
        clauses.append(f"e.path LIKE ANY(ARRAY[{prefixes}])")
    if config.root_page_id is not None:
        # A section that no longer exists hides everything rather than widening the feed.
        if prepared.section_path:
            clauses.append(f"e.path LIKE {_prefix_pattern(prepared.section_path)}")
        else:
            clauses.append("false")
    if prepared.locale_id is not None:
        clauses.append(f"e.locale_id = {int(prepared.locale_id)}")
    if config.page_types:
        types = ", ".join(str(int(pk)) for pk in content_type_ids(config.page_types))
        clauses.append(f"e.content_type_id IN ({types})")
    if exclude:
        params["exclude"] = sorted({int(pk) for pk in exclude})
        clauses.append("e.page_id <> ALL(%(exclude)s)")
    if config.exclude_read:
        read = _read_pages_sql(config, audience, prepared.reader_id, params)
        if read:
            clauses.append(read)
    return "\n          AND ".join(clauses)


@dataclass
class RankingStatement:
    sql: str
    params: dict

    def execute(self) -> list[RankedRow]:
        rows = run_statement(self.sql, self.params, binary=True)
        return [
            RankedRow(
                page_id=row[0],
                content_type_id=row[1],
                path=row[2],
                similarity=float(row[3]),
                freshness=float(row[4]),
                popularity=float(row[5]),
                score=float(row[6]),
                completeness=row[7] or "",
                embedding=parse_vector(row[8]) if len(row) > 8 else None,
            )
            for row in rows
        ]

    def explain(self, *, analyze: bool = True) -> str:
        options = "ANALYZE, BUFFERS, " if analyze else ""
        rows = run_statement(
            f"EXPLAIN ({options}FORMAT TEXT) {self.sql}", self.params, prepare=False
        )
        return "\n".join(line for (line,) in rows)


def candidate_count(config: FeedConfig, limit: int) -> int:
    return config.candidates or max(40, 4 * limit)


def ranking_statement(
    config: FeedConfig,
    audience: Audience,
    prepared: Prepared,
    *,
    limit: int,
    exclude: Sequence[int] = (),
    pool: int | None = None,
    with_embeddings: bool = False,
    now: datetime | None = None,
) -> RankingStatement:
    """Build the ranking statement; ``pool`` rows come back (default ``limit``).

    The statement ranks exactly, up to the HNSW searches' own recall: it
    proves inside SQL that no page left out could have made the list.

    * **Seed**: the ``k`` nearest eligible pages (HNSW) and, from the hot
      tier (recent or popular pages, a second small HNSW index), the
      ``max(20, 2·pool)`` nearest tier pages plus the pages changed since the
      tier's last refresh; without a tier, the few freshest and most popular
      eligible pages instead. All scored in full.
    * **Bound**: a page outside the nearest ``k`` is at most as similar as
      the ``k``-th (``s_k``). Outside the hot tier its bonus is at most
      ``h`` (the bonus of a page as old as the tier's edge, as popular as its
      threshold); inside, at most every bonus. So when the ``pool``-th seed
      score ``T`` is at least ``w_sim·s_k + h`` and at least
      ``w_sim·s' + w_fresh + w_pop`` (``s'``: the last tier page read), the
      seed holds the whole list. If only the second test fails, the tier is
      read four times deeper and the test repeated.
    * **Fallback**, run only when that proof fails (or there is no hot
      tier): the pages whose bonus alone exceeds ``T - w_sim·s_k`` are two
      index range scans (published after a cut-off, counter above a
      threshold), each read up to ``CANDIDATE_WINDOW`` rows, and scored too.
      When the seed cannot fill the pool they take the freshest and most
      popular pages, which keeps lists full under selective filters.
    """
    params: dict = {}
    where = eligibility_sql(config, audience, prepared, exclude=exclude, params=params)
    vector = query_vector(config, prepared)
    cold = prepared.profile is None
    pool = int(pool or limit)
    k = int(candidate_count(config, limit))
    # The tier is small: its first search needs only the hot pages close to
    # the reader; a busy topic is read deeper (see below).
    hot_k = max(20, 2 * pool)
    seed_size = max(2 * limit, 20)
    window = max(int(neural_feed_settings.CANDIDATE_WINDOW), pool)
    w_sim = float(config.similarity_weight) if vector is not None else 0.0
    w_fresh = float(config.freshness_weight)
    popularity_source = prepared.popularity_max > 0 and (
        config.popularity_weight > 0 or (cold and "popular" in config.cold_start)
    )
    w_pop = float(config.popularity_weight) if prepared.popularity_max > 0 else 0.0
    bonus_max = w_fresh + (w_pop if popularity_source else 0.0)
    now = now or timezone.now()

    table = _table(PageEmbedding)
    popularity_table = _table(PagePopularity)
    params["now"] = now
    params["fresh_seconds"] = config.freshness_half_life_days * SECONDS_PER_DAY
    popularity_half_life = (
        config.popularity_half_life_days or neural_feed_settings.POPULARITY_HALF_LIFE_DAYS
    )
    params["pop_seconds"] = float(popularity_half_life) * SECONDS_PER_DAY
    similarity = "1 - (e.embedding <=> %(q)s::vector)" if vector is not None else "0.0"
    if prepared.popularity_max > 0:
        params["pop_norm"] = math.log1p(prepared.popularity_max)
        popularity = """COALESCE(LEAST(1.0, ln(1 + GREATEST(0, p.score * exp(GREATEST(-700,
                -ln(2) * GREATEST(0, date_part('epoch', %(now)s - p.computed_at))
                / %(pop_seconds)s))))
                / %(pop_norm)s), 0.0)"""
    else:
        popularity = "0.0"
    # exp() of a very old page would underflow (an error in PostgreSQL): clamp.
    freshness = """COALESCE(exp(GREATEST(-700, -ln(2)
                * GREATEST(0, date_part('epoch', %(now)s - e.first_published_at))
                / %(fresh_seconds)s)), 0.0)"""
    bonus = f"{w_fresh!r} * ({freshness}) + {w_pop!r} * ({popularity})"
    embedding_column = ", e.embedding" if with_embeddings else ""

    def scored(similarity_sql: str = similarity) -> str:
        """The columns of a scored row of ``e`` (with ``p`` joined)."""
        return f"""e.page_id, e.content_type_id, e.path,
            ({similarity_sql})::float8 AS similarity,
            ({freshness})::float8 AS freshness,
            ({popularity})::float8 AS popularity{embedding_column}"""

    def union(sources: list[str]) -> str:
        """Rows of several sources, each page once, with its score."""
        columns = "page_id, content_type_id, path, similarity, freshness, popularity"
        columns += ", embedding" if with_embeddings else ""
        rows = " UNION ALL ".join(f"SELECT {columns} FROM {name}" for name in sources)
        return f"""SELECT DISTINCT ON (u.page_id) u.*, {w_sim!r} * u.similarity
            + {w_fresh!r} * u.freshness + {w_pop!r} * u.popularity AS score
        FROM ({rows}) u"""

    # Every source scores its own rows: each page's embedding row is read once.
    def hot_search(name: str, limit: int, condition: str) -> str:
        """The ``limit`` nearest eligible tier pages not changed since the refresh.

        The changed pages are skipped with ``<> ALL(ARRAY(...))``, not ``NOT IN
        (subquery)``: the planner guesses the latter drops half the rows, and
        with half a tier, sorting all of it looked cheaper than its HNSW index
        (2 ms more a list on a 10k-page site). The array is the few pages
        written since the last refresh (at most ``CANDIDATE_WINDOW``).
        """
        return f"""{name} AS MATERIALIZED (
        SELECT e.embedding <=> %(q)s::vector AS distance, {scored()}
        FROM {_table(HotPage)} e
        LEFT JOIN {popularity_table} p ON p.page_id = e.page_id
        WHERE {condition} AND {where}
          AND e.page_id <> ALL(ARRAY(SELECT page_id FROM changed))
        ORDER BY e.embedding <=> %(q)s::vector
        LIMIT {limit})"""

    ctes, seed_sources = [], []
    joined = f"{table} e LEFT JOIN {popularity_table} p ON p.page_id = e.page_id"
    if vector is not None:
        params["q"] = QueryVector(vector)
    if 0 <= prepared.embedded_pages < int(neural_feed_settings.EXACT_BELOW_PAGES):
        # A small site: score every eligible page in one scan. Exact, and
        # cheaper than the index searches and their proof below ~2 000 pages.
        ctes.append(f"""eligible AS MATERIALIZED (
        SELECT {scored()} FROM {joined}
        WHERE {where})""")
        rows = f"""SELECT u.*, {w_sim!r} * u.similarity + {w_fresh!r} * u.freshness
            + {w_pop!r} * u.popularity AS score FROM eligible u"""
        return _final_statement(ctes, rows, pool, with_embeddings, params, "'exact'::text")
    if vector is not None:
        ctes.append(f"""nearest AS MATERIALIZED (
        SELECT e.embedding <=> %(q)s::vector AS distance, {scored()}
        FROM {joined}
        WHERE {where}
        ORDER BY e.embedding <=> %(q)s::vector
        LIMIT {k})""")
        seed_sources.append("nearest")
    hot = prepared.hot if (vector is not None and w_sim > 0 and bonus_max > 0) else None
    if hot is None:
        # The freshest and most popular pages seed T. (With the hot tier its
        # nearest pages do that better; when the nearest-neighbour scans are
        # starved by a selective filter, the fallback fills the list.)
        ctes.append(f"""fresh AS MATERIALIZED (
        SELECT {scored()} FROM {joined}
        WHERE {where} AND e.first_published_at IS NOT NULL
        ORDER BY e.first_published_at DESC
        LIMIT {seed_size})""")
        seed_sources.append("fresh")
        if popularity_source:
            ctes.append(f"""popular AS MATERIALIZED (
        SELECT {scored()} FROM {popularity_table} p
        JOIN {table} e ON e.page_id = p.page_id
        WHERE {where} AND p.score > 0
        ORDER BY p.score DESC
        LIMIT {seed_size})""")
            seed_sources.append("popular")
    if hot is not None:
        # A constant, like the scope: it changes only when the tier is refreshed.
        refreshed = hot.refreshed_at.isoformat()
        # Rows written since the refresh: their tier copy may be stale, so
        # they are skipped in the tier and read (and scored) from PageEmbedding.
        ctes.append(f"""changed AS MATERIALIZED (
        SELECT e.page_id FROM {table} e
        WHERE e.updated_at > '{refreshed}'::timestamptz
        ORDER BY e.updated_at DESC
        LIMIT {window})""")
        ctes.append(f"""recent AS MATERIALIZED (
        SELECT {scored()} FROM {joined}
        WHERE e.page_id IN (SELECT page_id FROM changed) AND {where})""")
        # The tier has PageEmbedding's column names: the same filters and
        # scores apply to it, aliased "e", without reading the large table.
        ctes.append(hot_search("hot_nearest", hot_k, "true"))
        seed_sources += ["hot_nearest", "recent"]
    if bonus_max <= 0:
        ctes.append(f"""seed AS MATERIALIZED (
        {union(seed_sources)})""")
        return _final_statement(ctes, "SELECT * FROM seed", pool, with_embeddings, params)

    nearest_similarity = (
        "COALESCE((SELECT 1 - max(distance) FROM nearest), 1.0)" if vector is not None else "0.0"
    )

    def bound(name: str, source: str) -> str:
        """T (the pool-th best score of ``source``; -infinity while it cannot fill
        the pool) and the gap: the bonus a page outside the nearest k needs to beat T."""
        return f"""{name} AS MATERIALIZED (
        SELECT t.score AS t, t.score - {w_sim!r} * {nearest_similarity} AS gap
        FROM (SELECT COALESCE((SELECT score FROM {source} ORDER BY score DESC
                               OFFSET {pool - 1} LIMIT 1), '-Infinity') AS score) t)"""

    def proof(name: str, bound_name: str, hot_source: str, hot_k: int) -> str:
        """Nothing outside ``hot_source`` and the seed can beat T: pages outside
        the tier have at most the edge bonus, tier pages beyond the ``hot_k``
        nearest are no more similar than the last of them, and every page
        changed since the refresh was read."""
        return f"""{name} AS MATERIALIZED (
        SELECT b.gap >= %(hot_edge)s
           AND ((SELECT count(*) FROM {hot_source}) < {hot_k}
                OR b.t >= {w_sim!r} * (SELECT 1 - max(distance) FROM {hot_source})
                          + {bonus_max!r})
           AND (SELECT count(*) FROM changed) < {window} AS holds
        FROM {bound_name} b)"""

    if hot is not None:
        params["hot_edge"] = _hot_edge_bonus(config, prepared, hot, now, w_fresh, w_pop)
        deeper = HOT_DEEPER_FACTOR * hot_k
        ctes.append(f"""seed AS MATERIALIZED (
        {union(seed_sources)})""")
        ctes.append(bound("seed_bound", "seed"))
        ctes.append(proof("seed_proof", "seed_bound", "hot_nearest", hot_k))
        # Many tier pages close to the reader (a busy topic): read deeper into
        # the tier before falling back to the range scans.
        ctes.append(hot_search("hot_deeper", deeper, "NOT (SELECT holds FROM seed_proof)"))
        ctes.append(f"""candidates AS MATERIALIZED (
        {union([*seed_sources, "hot_deeper"])})""")
        ctes.append(bound("bound", "candidates"))
        ctes.append(
            proof("deeper_proof", "bound", "hot_deeper", deeper).replace(
                "SELECT b.gap", "SELECT (SELECT holds FROM seed_proof) OR b.gap", 1
            )
        )
        run_fallback = "NOT (SELECT holds FROM deeper_proof)"
        completeness = """CASE WHEN (SELECT holds FROM seed_proof) THEN 'hot tier'
            WHEN (SELECT holds FROM deeper_proof) THEN 'hot tier, deeper'
            ELSE 'fallback' END"""
    else:
        ctes.append(f"""candidates AS MATERIALIZED (
        {union(seed_sources)})""")
        ctes.append(bound("bound", "candidates"))
        run_fallback = "true"
        completeness = "'fallback'::text"

    def range_tail(name: str, source: str, condition: str, order: str) -> str:
        """Eligible pages not yet candidates whose bonus alone beats the gap,
        walked along an index (``order``) from where ``condition`` starts.

        Candidates are skipped with ``<> ALL(ARRAY(...))`` for the reason given
        in ``hot_search``: under ``NOT IN`` the planner read a whole section by
        tree path and sorted it instead of walking the freshness index.
        """
        return f"""{name} AS MATERIALIZED (
        SELECT {scored()} FROM {source}
        WHERE {run_fallback} AND {where}
          AND {condition}
          AND e.page_id <> ALL(ARRAY(SELECT page_id FROM candidates))
          AND {bonus} > (SELECT gap FROM bound)
        ORDER BY {order}
        LIMIT {window})"""

    tails = []
    if w_fresh > 0:
        # Freshness must exceed g (0..1): its share of the gap, and at least
        # what popularity cannot cover. That is: published after now - age(g).
        other = w_pop if popularity_source else 0.0
        g = f"GREATEST(b.gap / {bonus_max!r}, (b.gap - {other!r}) / {w_fresh!r})"
        ctes.append(f"""fresh_cutoff AS MATERIALIZED (
        SELECT CASE WHEN g >= 1 THEN 'infinity'::timestamptz
                    WHEN g <= 0 THEN '-infinity'::timestamptz
                    ELSE %(now)s - make_interval(secs => %(fresh_seconds)s * ln(g) / -ln(2))
               END AS published_after
        FROM (SELECT {g} AS g FROM bound b) x)""")
        ctes.append(
            range_tail(
                "fresh_tail",
                joined,
                "e.first_published_at > (SELECT published_after FROM fresh_cutoff)",
                "e.first_published_at DESC",
            )
        )
        tails.append("fresh_tail")
    if popularity_source and w_pop > 0:
        g = f"GREATEST(b.gap / {bonus_max!r}, (b.gap - {w_fresh!r}) / {w_pop!r})"
        # A stored counter only decays: popularity > g needs score > e^(g·norm) - 1.
        ctes.append(f"""popular_cutoff AS MATERIALIZED (
        SELECT CASE WHEN g >= 1 THEN 'Infinity'::float8
                    WHEN g <= 0 THEN 0.0::float8
                    ELSE exp(g * %(pop_norm)s) - 1
               END AS score_above
        FROM (SELECT {g} AS g FROM bound b) x)""")
        ctes.append(
            range_tail(
                "popular_tail",
                f"{popularity_table} p JOIN {table} e ON e.page_id = p.page_id",
                "p.score > (SELECT score_above FROM popular_cutoff)",
                "p.score DESC",
            )
        )
        tails.append("popular_tail")
    ctes.append(f"""tail AS MATERIALIZED (
        {union(tails)})""")
    rows = "SELECT * FROM candidates UNION ALL SELECT * FROM tail"
    return _final_statement(ctes, rows, pool, with_embeddings, params, completeness)


def _hot_edge_bonus(
    config: FeedConfig,
    prepared: Prepared,
    hot: HotState,
    now: datetime,
    w_fresh: float,
    w_pop: float,
) -> float:
    """The largest bonus a page outside the hot tier can have now.

    Older than ``fresh_after``; stored counter at most ``score_above``.
    """
    age = max(0.0, (now - hot.fresh_after).total_seconds())
    freshness = math.exp(-math.log(2) * age / (config.freshness_half_life_days * SECONDS_PER_DAY))
    popularity = 0.0
    if prepared.popularity_max > 0:
        popularity = min(
            1.0, math.log1p(max(hot.score_above, 0.0)) / math.log1p(prepared.popularity_max)
        )
    return w_fresh * freshness + w_pop * popularity


def _final_statement(
    ctes: list[str],
    rows: str,
    pool: int,
    with_embeddings: bool,
    params: dict,
    completeness: str = "NULL::text",
) -> RankingStatement:
    embedding_select = ", r.embedding" if with_embeddings else ""
    sql = f"""
    WITH {", ".join(ctes)}
    SELECT r.page_id, r.content_type_id, r.path, r.similarity, r.freshness, r.popularity,
        r.score, {completeness}{embedding_select}
    FROM ({rows}) r
    ORDER BY r.score DESC, r.page_id
    LIMIT {pool}
    """
    # One line, single spaces: a third shorter to send, hash and compare (it
    # keys the placeholder cache and the prepared statement). No comments or
    # multi-space literals are in the statement, so nothing changes meaning.
    return RankingStatement(sql=" ".join(sql.split()), params=params)
