"""The page fetch: specific page objects for ranked rows.

Usually no query of its own: :func:`execute_with_pages` runs the ranking
statement with the pages' columns joined on (one round trip for the ranked
rows and their pages), and :func:`fetch_pages` builds the pages from those
columns. Rows of a page type that was not joined (a custom manager, more
types than :data:`MAX_JOINED_TABLES`, statements that return embeddings)
are fetched as before, one query per page type.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import connections
from wagtail.models import Page
from wagtail.models.pages import BasePageManager

from ..pagetypes import page_type_models, recommendable_models
from ..statements import read_alias, run_statement
from .rows import RankedRow, RankingStatement

#: Joining more tables than this costs more than the query it saves.
MAX_JOINED_TABLES = 8


@dataclass(frozen=True)
class Recommendation:
    """Why a page is in a list: its rank and the parts of its score."""

    feed: str
    rank: int
    score: float
    similarity: float
    freshness: float
    popularity: float
    #: How the ranking showed that no page left out could have made the list:
    #: "hot tier" (the bound held), "fallback" (range scans ran) or "exact" (a
    #: small site: every eligible page scored); see docs/ranking.md.
    completeness: str = ""


def fetch_pages(rows: list[RankedRow], *, feed: str) -> list[Page]:
    """Specific, live pages for ranked rows, in order, each with ``page.recommendation``."""
    pages: dict[int, Page] = {}
    missing: dict[int, list[int]] = defaultdict(list)
    alias = read_alias()
    for row in rows:
        model = ContentType.objects.get_for_id(row.content_type_id).model_class()
        if model is None:  # a page type whose code was removed
            continue
        joined = row.page_columns
        if joined is not None and model in joined.join.models:
            page = joined.join.page(model, joined.values, alias)
            if page is not None:  # None: not live (any more)
                pages[page.pk] = page
        else:
            missing[row.content_type_id].append(row.page_id)
    for content_type_id, ids in missing.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        for page in _live_pages(model, alias, ids):
            pages[page.pk] = page
    result = []
    for rank, row in enumerate(rows, start=1):
        page = pages.get(row.page_id)
        if page is None:
            continue
        page.recommendation = Recommendation(
            feed=feed,
            rank=rank,
            score=row.score,
            similarity=row.similarity,
            freshness=row.freshness,
            popularity=row.popularity,
            completeness=row.completeness,
        )
        result.append(page)
    return result


def execute_with_pages(
    statement: RankingStatement, models: Iterable[type[Page]]
) -> list[RankedRow]:
    """The statement's rows, each carrying its page's columns when its type is in ``models``.

    The ranking runs unchanged inside a materialised CTE (an optimisation
    fence: the same plan), numbered in its own order; each ranked row is then
    joined to its page's tables by primary key. One round trip instead of
    two, and :func:`fetch_pages` needs no query for these rows. Falls back to
    :meth:`RankingStatement.execute` when no page type can be joined.
    """
    alias = read_alias()
    join = _page_join(tuple(sorted(set(models), key=_model_label)), alias, MAX_JOINED_TABLES)
    if join is None:
        return statement.execute()
    # Text results: Django's loaders (jsonb, timestamptz) read the page columns
    # exactly as in its own queries; the ranked columns parse the same either way.
    rows = run_statement(join.prefix + statement.sql + join.suffix, statement.params)
    result = []
    for row in rows:
        ranked = len(row) - 1 - join.width  # then the position, then the page columns
        item = RankedRow.from_row(row[:ranked])
        item.page_columns = _Joined(join, row[ranked + 1 :])
        result.append(item)
    return result


def page_models_for(page_types: Sequence[str] = ()) -> list[type[Page]]:
    """The page types a feed can list: every recommendable one, or those under ``page_types``."""
    models = recommendable_models()
    if page_types:
        wanted = page_type_models(page_types)
        models = [model for model in models if any(issubclass(model, base) for base in wanted)]
    return models


def _model_label(model: type[Page]) -> str:
    return model._meta.label


@dataclass(frozen=True)
class _Joined:
    join: _PageJoin
    values: Sequence


@dataclass(frozen=True)
class _PageJoin:
    """The SQL around a ranking statement that joins its pages, and how to read them."""

    prefix: str
    suffix: str
    #: page columns after the ranked ones (and the position)
    width: int
    #: model -> (its compiled query, positions of its columns, positions that must not be NULL)
    models: dict

    def page(self, model: type[Page], values: Sequence, alias: str) -> Page | None:
        compiled, positions, required = self.models[model]
        if any(values[i] is None for i in required):
            return None
        return compiled.instance(model, alias, [values[i] for i in positions])


@functools.lru_cache(maxsize=64)
def _page_join(models: tuple[type[Page], ...], alias: str, max_tables: int) -> _PageJoin | None:
    quote = connections[alias].ops.quote_name
    tables: dict[str, str] = {}  # table -> its alias in the join
    joins: list[str] = []
    columns: dict[tuple[str, str], int] = {}  # (table, column) -> position
    layout = {}
    page_table = Page._meta.db_table
    for model in models:
        compiled = _compiled_live_pages(model, alias)
        if compiled is None:
            continue
        new = {table for table, _, _ in compiled.columns} - set(tables)
        if len(tables) + len(new) > max_tables:
            continue
        for table, _, pk_column in compiled.columns:
            if table not in tables:
                tables[table] = name = f"nf_t{len(tables)}"
                live = f" AND {name}.{quote('live')}" if table == page_table else ""
                joins.append(
                    f"LEFT JOIN {quote(table)} {name} ON {name}.{quote(pk_column)} = nf_r.page_id"
                    + live
                )
        positions = []
        for table, column, _ in compiled.columns:
            positions.append(columns.setdefault((table, column), len(columns)))
        # Each table's primary key: NULL when the page is not live (or a row is missing).
        required = tuple(
            columns[(table, pk)] for table, column, pk in compiled.columns if column == pk
        )
        layout[model] = (compiled, tuple(positions), required)
    if not layout:
        return None
    selected = "".join(f", {tables[table]}.{quote(column)}" for table, column in columns)
    return _PageJoin(
        prefix="WITH nf_ranked AS MATERIALIZED (SELECT nf_q.*, row_number() OVER () "
        "AS nf_position FROM (",
        suffix=f") nf_q) SELECT nf_r.*{selected} FROM nf_ranked nf_r {' '.join(joins)} "
        "ORDER BY nf_r.nf_position",
        width=len(columns),
        models=layout,
    )


def _live_pages(model: type[Page], alias: str, ids: list[int]) -> Iterable[Page]:
    """The live pages of one type among ``ids``, in no particular order.

    For Wagtail's own page manager the query is compiled once per page type
    and runs as a prepared statement, and rows become pages the way Django's
    own iterator makes them (field converters, then ``from_db``): building
    the same query, planning it and walking a raw queryset's machinery was
    most of the fetch's time. A custom manager, whose queryset may change
    from call to call, gets a fresh ORM query every time.
    """
    compiled = _compiled_live_pages(model, alias)
    if compiled is None:
        return model._default_manager.db_manager(alias).filter(pk__in=ids, live=True).order_by()
    rows = run_statement(compiled.sql, [*compiled.params, ids])
    return [compiled.instance(model, alias, row) for row in rows]


@dataclass(frozen=True)
class _CompiledPageQuery:
    sql: str
    params: tuple
    attnames: tuple[str, ...]
    #: column index -> (converter functions, column expression), as Django's compiler gives them
    converters: dict
    #: (table, column, that table's primary key column) of each selected column
    columns: tuple[tuple[str, str, str], ...]

    def instance(self, model: type[Page], alias: str, row: Sequence) -> Page:
        """A page from one row of its columns, as Django's own iterator makes it."""
        if self.converters:
            row = list(row)
            connection = connections[alias]
            for index, (functions, expression) in self.converters.items():
                for function in functions:
                    row[index] = function(row[index], expression, connection)
        return model.from_db(alias, self.attnames, row)


@functools.lru_cache(maxsize=256)
def _compiled_live_pages(model: type[Page], alias: str) -> _CompiledPageQuery | None:
    manager = model._default_manager
    if type(manager).get_queryset is not BasePageManager.get_queryset:
        return None
    queryset = manager.db_manager(alias).filter(live=True).order_by()
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    columns = [expression for expression, _, _ in compiler.select]
    if compiler.annotation_col_map or list(compiler.klass_info["select_fields"]) != list(
        range(len(columns))
    ):
        return None  # a manager whose query selects more than the page's own fields
    quote = connections[alias].ops.quote_name
    page_id = f"{quote(Page._meta.db_table)}.{quote(Page._meta.pk.column)}"
    return _CompiledPageQuery(
        sql=f"{sql} AND {page_id} = ANY(%s)",
        params=tuple(params),
        attnames=tuple(column.target.attname for column in columns),
        converters=compiler.get_converters(columns),
        columns=tuple(
            (
                column.target.model._meta.db_table,
                column.target.column,
                column.target.model._meta.pk.column,
            )
            for column in columns
        ),
    )
