"""The ranking: one statement that picks and scores a feed's pages.

A list costs two round trips: the page fetch rides on the second
(:func:`execute_with_pages`):

============== =============================================================
module         holds
============== =============================================================
audience.py    who is asking: :class:`Audience`, :func:`audience_for`
scope.py       round trip 1: the reader's profile, the context page, the
               site / section / locale, the hot tier (:func:`load_scope`),
               and the query vector (:func:`query_vector`)
filters.py     the eligibility filter every candidate source shares
               (visibility, site, section, locale, page types, exclusions,
               already read)
scoring.py     the hybrid score's terms (similarity, freshness, popularity)
statement.py   round trip 2: the candidate sources and the statement
               (:func:`ranking_statement`)
completeness.py the bound, the proofs and the fallback range scans
rows.py        :class:`RankingStatement` (execute, explain), :class:`RankedRow`
fetch.py       the specific pages for ranked rows, joined onto round trip 2
               (:func:`execute_with_pages`, :func:`fetch_pages`)
============== =============================================================

Both round trips run through :mod:`wagtail_neural_feed.statements`
(prepared, native placeholders, binary vectors).
"""

from .audience import Audience, audience_for
from .fetch import Recommendation, execute_with_pages, fetch_pages, page_models_for
from .rows import RankedRow, RankingStatement
from .scope import Scope, load_scope, query_vector
from .statement import candidate_count, pool_size, ranking_statement

__all__ = [
    "Audience",
    "RankedRow",
    "RankingStatement",
    "Recommendation",
    "Scope",
    "audience_for",
    "candidate_count",
    "execute_with_pages",
    "fetch_pages",
    "load_scope",
    "page_models_for",
    "pool_size",
    "query_vector",
    "ranking_statement",
]
