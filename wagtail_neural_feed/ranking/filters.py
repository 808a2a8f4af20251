"""The eligibility filter: the WHERE clause every candidate source shares.

Live, embedded, visible to this reader, in the list's site, section and
locale, of the feed's page types, not excluded, not already read. Every
source of candidates applies all of it, so nothing the reader may not see
can enter a list.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..feeds import FeedConfig
from ..models import Interaction
from ..pagetypes import content_type_ids
from ..scope_indexes import prefix_range, site_predicate
from ..sources import source_columns
from ..statements import table_name
from .audience import Audience
from .scope import Scope


def eligibility_sql(
    config: FeedConfig,
    audience: Audience,
    scope: Scope,
    *,
    exclude: Sequence[int] = (),
    params: dict,
) -> str:
    """The WHERE clause for rows of ``PageEmbedding`` (or the hot tier) aliased ``e``.

    The list's scope (site, section, locale, page types) is written into the
    statement as constants, not parameters: it is the same for every reader
    of a feed on a site, so the prepared statement is still reused, and the
    planner sees how selective each filter really is. (With parameters it
    would guess "0.5 % of the rows" for a tree-path prefix and sort the whole
    table instead of walking the HNSW index.)
    """
    clauses = ["e.status = 'ready'", "e.live", "e.embedding IS NOT NULL"]
    visibility = visibility_sql(scope, params)
    if visibility:
        clauses.append(visibility)
    if scope.site_paths:
        # Written as a scope index's predicate is, so the planner can use one.
        clauses.append(site_predicate(scope.site_paths, "e.path"))
    if config.root_page_id is not None:
        # A section that no longer exists hides everything rather than widening the feed.
        if scope.section_path:
            clauses.append(prefix_range(scope.section_path, "e.path"))
        else:
            clauses.append("false")
    if scope.locale_id is not None:
        clauses.append(f"e.locale_id = {int(scope.locale_id)}")
    if config.page_types:
        types = ", ".join(str(int(pk)) for pk in content_type_ids(config.page_types))
        clauses.append(f"e.content_type_id IN ({types})")
    if exclude:
        params["exclude"] = sorted({int(pk) for pk in exclude})
        clauses.append("e.page_id <> ALL(%(exclude)s)")
    if config.exclude_read:
        read = already_read_sql(config, audience, scope.reader_id, params)
        if read:
            clauses.append(read)
    return "\n          AND ".join(clauses)


def visibility_sql(scope: Scope, params: dict) -> str | None:
    """Public pages, plus restricted pages whose every restriction this reader passes."""
    if scope.blocked_paths is None:  # anonymous: every restriction applies
        return "NOT e.view_restricted"
    if not scope.blocked_paths:
        return None
    params["blocked_prefixes"] = [path + "%" for path in scope.blocked_paths]
    return "NOT (e.view_restricted AND e.path LIKE ANY(%(blocked_prefixes)s))"


def already_read_sql(
    config: FeedConfig, audience: Audience, reader_id: int | None, params: dict
) -> str | None:
    """A NOT EXISTS clause hiding pages this reader already interacted with."""
    source = config.interaction_source
    if source in (None, "", "interactions"):
        if reader_id is None:
            return None
        params["reader_id"] = reader_id
        return f"""NOT EXISTS (SELECT 1 FROM {table_name(Interaction)} i
            WHERE i.reader_id = %(reader_id)s AND i.page_id = e.page_id)"""
    if audience.user_id is None:
        return None
    table, user_column, page_column = source_columns(source)
    params["source_user"] = audience.user_id
    return f"""NOT EXISTS (SELECT 1 FROM {table} s
        WHERE s.{user_column} = %(source_user)s AND s.{page_column} = e.page_id)"""
