"""The ranking SQL: one statement that picks and scores a feed's pages.

A list costs two round trips:

1. :func:`prepare` sets the HNSW search settings for this connection and reads,
   in one ``SELECT``, what the ranking needs to know first: the reader's
   profile (or a parent feed's), the context page's embedding, the site and
   section paths and the popularity normaliser.
2. :func:`rank` runs the ranking statement: nearest-neighbour candidates from
   the HNSW index (pgvector's iterative scan keeps filtered lists full),
   united with the freshest and the most popular eligible pages, re-scored as
   ``w_sim·similarity + w_fresh·exp(-ln2·age/half_life) + w_pop·popularity``
   and ordered.

Every candidate source applies the same eligibility filter (live, embedded,
visible to this reader, same site, section, locale, page types, exclusions),
so nothing the reader may not see can enter the list.
"""

from __future__ import annotations

import math
import time
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
from .models import Interaction, PageEmbedding, PagePopularity, Reader, ReaderProfile

SECONDS_PER_DAY = 86400.0


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


def parse_vector(value) -> np.ndarray | None:
    """pgvector's text form ("[1,2,3]") or an array → float32 array."""
    if value is None:
        return None
    if isinstance(value, str):
        return np.array(value[1:-1].split(","), dtype=np.float32)
    return np.asarray(value, dtype=np.float32)


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float64)) + "]"


def normalise(vector: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return (vector / norm).astype(np.float32)


def read_alias() -> str:
    return neural_feed_settings.READ_DATABASE or "default"


def _table(model) -> str:
    return connections[read_alias()].ops.quote_name(model._meta.db_table)


def _column(model, field_name: str) -> str:
    return connections[read_alias()].ops.quote_name(model._meta.get_field(field_name).column)


def run_statement(sql: str, params: dict, *, many: bool = True) -> list[tuple]:
    """Run a ranking statement on the read database with server-side parameters.

    Django inlines parameters into the SQL text; here the query vector (384
    numbers of text) travels once as a parameter instead of twice inside the
    statement, which PostgreSQL would then parse twice. (The statement is still
    planned on every call: Django opens psycopg with ``prepare_threshold=None``.)
    The query runs inside Django's error wrapping and is logged the way Django
    logs queries (``connection.queries``, ``assertNumQueries``).
    """
    import psycopg

    connection = connections[read_alias()]
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if many else [cursor.fetchone()]
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": sql, "time": f"{time.monotonic() - started:.3f}", "params": params}
        )
    return rows


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
            (SELECT score FROM {_table(PagePopularity)} ORDER BY score DESC LIMIT 1)
    """
    (row,) = run_statement(sql, params, many=False)
    _, _, _, reader_id, profile, context, site_paths, section_path, locale_id, pop_max = row
    return Prepared(
        reader_id=reader_id,
        profile=parse_vector(profile),
        context=parse_vector(context),
        site_paths=tuple(site_paths or ()),
        section_path=section_path,
        locale_id=locale_id,
        popularity_max=max(float(pop_max or 0.0), 0.0),
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


def _visibility_sql(audience: Audience, params: dict) -> str:
    """Public pages, plus restricted pages whose every restriction this reader passes."""
    if not (audience.is_authenticated or audience.passed_restrictions):
        return "NOT e.view_restricted"
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
    return f"""(NOT e.view_restricted OR NOT EXISTS (
        SELECT 1 FROM {restriction} r JOIN {page_table} rp ON rp.id = r.page_id
        WHERE e.path LIKE rp.path || '%%'
          AND NOT (
            r.restriction_type = 'none'
            OR (r.restriction_type = 'login' AND %(authenticated)s)
            OR (r.restriction_type = 'groups' AND (%(superuser)s OR {in_group}))
            OR (r.restriction_type = 'password' AND r.id = ANY(%(passed)s))
          )))"""


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


def eligibility_sql(
    config: FeedConfig,
    audience: Audience,
    prepared: Prepared,
    *,
    exclude: Sequence[int] = (),
    params: dict,
) -> str:
    """The WHERE clause every candidate source shares."""
    clauses = ["e.status = 'ready'", "e.live", "e.embedding IS NOT NULL"]
    clauses.append(_visibility_sql(audience, params))
    if prepared.site_paths:
        params["site_prefixes"] = [path + "%" for path in prepared.site_paths]
        clauses.append("e.path LIKE ANY(%(site_prefixes)s)")
    if config.root_page_id is not None:
        # A section that no longer exists hides everything rather than widening the feed.
        params["section_prefix"] = (prepared.section_path or "\x00") + "%"
        clauses.append("e.path LIKE %(section_prefix)s")
    if prepared.locale_id is not None:
        params["locale_id"] = prepared.locale_id
        clauses.append("e.locale_id = %(locale_id)s")
    if config.page_types:
        params["content_types"] = content_type_ids(config.page_types)
        clauses.append("e.content_type_id = ANY(%(content_types)s)")
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
        rows = run_statement(self.sql, self.params)
        return [
            RankedRow(
                page_id=row[0],
                content_type_id=row[1],
                path=row[2],
                similarity=float(row[3]),
                freshness=float(row[4]),
                popularity=float(row[5]),
                score=float(row[6]),
                embedding=parse_vector(row[7]) if len(row) > 7 else None,
            )
            for row in rows
        ]

    def explain(self, *, analyze: bool = True) -> str:
        options = "ANALYZE, BUFFERS, " if analyze else ""
        rows = run_statement(f"EXPLAIN ({options}FORMAT TEXT) {self.sql}", self.params)
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
    """Build the ranking statement; ``pool`` rows come back (default ``limit``)."""
    params: dict = {}
    where = eligibility_sql(config, audience, prepared, exclude=exclude, params=params)
    vector = query_vector(config, prepared)
    k = candidate_count(config, limit)
    secondary = max(2 * limit, 20)
    ctes = []
    sources = []
    if vector is not None:
        params["q"] = vector_literal(vector)
        params["k_nn"] = k
        ctes.append(f"""nearest AS MATERIALIZED (
        SELECT e.page_id FROM {_table(PageEmbedding)} e
        WHERE {where}
        ORDER BY e.embedding <=> %(q)s::vector
        LIMIT %(k_nn)s)""")
        sources.append("SELECT page_id FROM nearest")
    cold = prepared.profile is None
    params["now"] = now or timezone.now()
    params["fresh_seconds"] = config.freshness_half_life_days * SECONDS_PER_DAY
    popularity_half_life = (
        config.popularity_half_life_days or neural_feed_settings.POPULARITY_HALF_LIFE_DAYS
    )
    params["pop_seconds"] = float(popularity_half_life) * SECONDS_PER_DAY
    params["w_sim"] = float(config.similarity_weight) if vector is not None else 0.0
    params["w_fresh"] = float(config.freshness_weight)
    params["w_pop"] = float(config.popularity_weight)
    params["pool"] = pool or limit
    params["window"] = max(int(neural_feed_settings.CANDIDATE_WINDOW), secondary)
    similarity = "1 - (e.embedding <=> %(q)s::vector)" if vector is not None else "0.0"
    if prepared.popularity_max > 0:
        params["pop_norm"] = math.log1p(prepared.popularity_max)
        popularity = """COALESCE(LEAST(1.0, ln(1 + GREATEST(0, p.score * exp(GREATEST(-700,
                -ln(2) * GREATEST(0, extract(epoch FROM %(now)s - p.computed_at))
                / %(pop_seconds)s))))
                / %(pop_norm)s), 0.0)"""
    else:
        popularity = "0.0"
    # exp() of a very old page would underflow (an error in PostgreSQL): clamp.
    freshness = """COALESCE(exp(GREATEST(-700, -ln(2)
                * GREATEST(0, extract(epoch FROM %(now)s - e.first_published_at))
                / %(fresh_seconds)s)), 0.0)"""

    # The freshest and the most popular pages are candidates too: within a
    # window of each, the best by their full score (a fresh page a little
    # less similar can outrank the nearest ones). The fresh source also keeps
    # the list full when a selective filter starves the nearest-neighbour scan.
    params["k_fresh"] = secondary if (config.freshness_weight > 0 or vector is None) else limit
    ctes.append(f"""fresh AS MATERIALIZED (
        SELECT e.page_id FROM (
            SELECT e.page_id, e.embedding, e.first_published_at
            FROM {_table(PageEmbedding)} e
            WHERE {where} AND e.first_published_at IS NOT NULL
            ORDER BY e.first_published_at DESC
            LIMIT %(window)s) e
        ORDER BY %(w_sim)s * ({similarity}) + %(w_fresh)s * ({freshness}) DESC, e.page_id
        LIMIT %(k_fresh)s)""")
    sources.append("SELECT page_id FROM fresh")
    if config.popularity_weight > 0 or (cold and "popular" in config.cold_start):
        params["k_pop"] = secondary
        ctes.append(f"""popular AS MATERIALIZED (
        SELECT p.page_id FROM (
            SELECT p.page_id, p.score, p.computed_at, e.embedding
            FROM {_table(PagePopularity)} p
            JOIN {_table(PageEmbedding)} e ON e.page_id = p.page_id
            WHERE {where} AND p.score > 0
            ORDER BY p.score DESC
            LIMIT %(window)s) p
        CROSS JOIN LATERAL (SELECT p.embedding) e
        ORDER BY %(w_sim)s * ({similarity}) + %(w_pop)s * ({popularity}) DESC, p.page_id
        LIMIT %(k_pop)s)""")
        sources.append("SELECT page_id FROM popular")

    embedding_column = ", s.embedding::text" if with_embeddings else ""
    sql = f"""
    WITH {", ".join(ctes)},
    candidates AS ({" UNION ".join(sources)}),
    scored AS (
        SELECT e.page_id, e.content_type_id, e.path, e.embedding,
            ({similarity})::float8 AS similarity,
            ({freshness})::float8 AS freshness,
            ({popularity})::float8 AS popularity
        FROM candidates c
        JOIN {_table(PageEmbedding)} e ON e.page_id = c.page_id
        LEFT JOIN {_table(PagePopularity)} p ON p.page_id = c.page_id
    )
    SELECT s.page_id, s.content_type_id, s.path, s.similarity, s.freshness, s.popularity,
        %(w_sim)s * s.similarity + %(w_fresh)s * s.freshness + %(w_pop)s * s.popularity
            AS score{embedding_column}
    FROM scored s
    ORDER BY score DESC, s.page_id
    LIMIT %(pool)s
    """
    return RankingStatement(sql=sql, params=params)
