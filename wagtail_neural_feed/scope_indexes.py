"""Partial HNSW indexes for selective scopes: one site, or one locale, of a shared table.

Every site (and every locale) of a Wagtail install shares the embedding table
and its HNSW index. A list filters on its site's tree paths and its locale;
when those keep a small share of the table, the filtered search reads on
through every other site's pages near the reader (pgvector's iterative scan)
before it has enough of its own: a 5 000-page site in a 100 000-page table
reads about twenty times as far as the same site alone. A partial index that
holds only the scope's pages makes its search as cheap as on a table of its
own. PostgreSQL picks it when the statement's filter implies the index's
predicate, so the predicate is written here, in the one form the ranking's
filter uses too (:func:`site_predicate`, ``locale_id = n``).

Each index is named after its scope (an md5 of the site's root paths, or the
locale's id), so round trip 1 finds it in ``pg_class`` with no registry and
reads its row count: the scope's size, which decides whether a list scores
every page of a small scope in one scan. Correctness never depends on these
indexes: without one (or with a stale one) the shared index is searched.

Create them with ``manage.py neural_feed_scope_indexes`` (see docs/ranking.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from wagtail.models import Locale, Page, Site

from .models import HotPage, PageEmbedding
from .models.fields import HNSW_EF_CONSTRUCTION, HNSW_M

logger = logging.getLogger(__name__)

PREFIX = "nf_scope"
#: Index name part per table: the embedding table and the hot tier.
TABLES = {"e": PageEmbedding, "h": HotPage}


#: Above every character of a Wagtail tree path (treebeard's alphabet is 0-9A-Z):
#: ``path >= p AND path < p || PATH_END`` is "path starts with p".
PATH_END = "~"


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def prefix_range(path: str, column: str = "path") -> str:
    """``column`` starts with ``path``, as a range of the ``C``-collated column.

    A range, not ``LIKE 'p%'``: the planner estimates a site range and a
    section range inside it together (the narrower bound wins) instead of
    multiplying them as if independent, which made a 2 500-page section of a
    site in a shared table look like 100 rows and its nearest pages look
    cheaper to sort than to search. And PostgreSQL proves a range query
    implies a partial index's range predicate (it cannot for ``LIKE``).
    """
    return f"{column} >= {quote(path)} AND {column} < {quote(path + PATH_END)}"


def site_predicate(paths: Iterable[str], column: str = "path") -> str:
    """The site filter (pages under the root's paths in every locale)."""
    ranges = [prefix_range(path, column) for path in sorted(paths)]
    if len(ranges) == 1:
        return ranges[0]
    return "(" + " OR ".join(f"({r})" for r in ranges) + ")"


def site_key(paths: Iterable[str]) -> str:
    joined = ",".join(sorted(paths))
    return "s" + hashlib.md5(joined.encode(), usedforsecurity=False).hexdigest()[:16]


def site_key_sql(paths_sql: str) -> str:
    """:func:`site_key` computed in SQL from a ``text[]`` of paths."""
    return (
        "'s' || left(md5(array_to_string(ARRAY(SELECT x FROM unnest("
        f"{paths_sql}) x ORDER BY x COLLATE \"C\"), ',')), 16)"
    )


def index_name(table: str, key: str) -> str:
    """``nf_scope_e_s1a2b...`` (a site's pages) or ``nf_scope_h_l3`` (a locale's hot pages)."""
    return f"{PREFIX}_{table}_{key}"


@dataclass(frozen=True)
class ScopeOption:
    """A site or a locale that could have indexes of its own."""

    label: str
    key: str
    predicate: str
    pages: int

    def names(self) -> list[str]:
        return [index_name(table, self.key) for table in TABLES]


def site_paths(site: Site) -> list[str]:
    """Tree paths of a site's root page in every locale (as round trip 1 reads them)."""
    root = Page.objects.filter(pk=site.root_page_id).values("translation_key").first()
    if root is None:
        return []
    return list(
        Page.objects.filter(translation_key=root["translation_key"]).values_list("path", flat=True)
    )


def scope_options() -> list[ScopeOption]:
    """Every site, and every locale when i18n is on, with its embedded pages."""
    options = []
    for site in Site.objects.order_by("hostname", "port"):
        paths = site_paths(site)
        if not paths:
            continue
        predicate = site_predicate(paths)
        pages = _count(predicate)
        options.append(
            ScopeOption(f"site {site.hostname}:{site.port}", site_key(paths), predicate, pages)
        )
    if getattr(settings, "WAGTAIL_I18N_ENABLED", False):
        for locale in Locale.objects.order_by("language_code"):
            predicate = f"locale_id = {int(locale.pk)}"
            options.append(
                ScopeOption(
                    f"locale {locale.language_code}", f"l{locale.pk}", predicate, _count(predicate)
                )
            )
    return options


def _count(predicate: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {PageEmbedding._meta.db_table} "
            f"WHERE embedding IS NOT NULL AND {predicate}"
        )
        return int(cursor.fetchone()[0])


def create_scope_indexes(option: ScopeOption, *, concurrently: bool = False) -> list[str]:
    """Partial HNSW indexes on the scope's pages and hot pages; returns their names."""
    created = []
    how = "CONCURRENTLY " if concurrently else ""
    for table, model in TABLES.items():
        name = index_name(table, option.key)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE INDEX {how}IF NOT EXISTS {name} ON {model._meta.db_table} "
                f"USING hnsw (embedding vector_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
                f"WHERE {option.predicate}"  # no parameters: % is not a placeholder
            )
        created.append(name)
        logger.info("Scope index %s ready (%s)", name, option.label)
    return created


def drop_scope_indexes(names: Iterable[str]) -> list[str]:
    dropped = []
    with connection.cursor() as cursor:
        for name in names:
            if not name.startswith(PREFIX + "_"):
                raise ValueError(f"{name!r} is not a scope index.")
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")
            dropped.append(name)
    return dropped


def existing_scope_indexes() -> list[tuple[str, str, int, int]]:
    """(name, table, rows, bytes) of every scope index."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, t.relname, c.reltuples::bigint, pg_relation_size(c.oid)
            FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
            JOIN pg_class t ON t.oid = i.indrelid
            WHERE c.relkind = 'i' AND c.relname LIKE %s AND pg_table_is_visible(c.oid)
            ORDER BY c.relname""",
            [PREFIX + r"\_%"],
        )
        return [tuple(row) for row in cursor.fetchall()]
