"""The page fetch: specific page objects for ranked rows, one query per page type."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import connections
from wagtail.models import Page
from wagtail.models.pages import BasePageManager

from ..statements import read_alias, run_statement
from .rows import RankedRow


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
    by_type: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_type[row.content_type_id].append(row.page_id)
    pages: dict[int, Page] = {}
    alias = read_alias()
    for content_type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:  # a page type whose code was removed
            continue
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
    connection = connections[alias]
    pages = []
    for row in rows:
        if compiled.converters:
            row = list(row)
            for index, (functions, expression) in compiled.converters.items():
                for function in functions:
                    row[index] = function(row[index], expression, connection)
        pages.append(model.from_db(alias, compiled.attnames, row))
    return pages


@dataclass(frozen=True)
class _CompiledPageQuery:
    sql: str
    params: tuple
    attnames: tuple[str, ...]
    #: column index -> (converter functions, column expression), as Django's compiler gives them
    converters: dict


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
    )
