"""The co-read term: "readers of this also read", from the small ``CoRead`` table.

A list's *anchor pages* are the context page ("More like this", a list on a
page) and the reader's last ``CO_READ_RECENT_PAGES`` positively read pages.
For each anchor ``a`` and candidate ``c`` with a stored count ``n(a, c)``
(decayed to now), the term is

    co_read(c) = mean over anchors a of n(a, c) / max_c' n(a, c')

in 0..1: 1 for the page most co-read with every anchor, 0 for a page never
read with any. Every page with a co-read count is also a candidate source
(at most anchors · ``CO_READ_MAX_PER_PAGE`` rows, through the pair index),
so the completeness proof is unchanged: a page the statement did not score
has no co-read term. With a co-read weight of 0 (and no "co_read" cold
start) none of this is in the statement, which is then unchanged.
"""

from __future__ import annotations

from ..conf import neural_feed_settings
from ..models import CoRead, Interaction
from ..statements import table_name

#: The co-read count decayed from ``updated_at`` to ``%(now)s`` (clamped like freshness).
DECAYED_SQL = """c.weight * exp(GREATEST(-700, -ln(2)
                * GREATEST(0, date_part('epoch', %(now)s - c.updated_at)) / %(co_seconds)s))"""


class CoReadMixin:
    """The co-read CTEs of :class:`~.statement.StatementBuilder`."""

    def co_read_anchor(self) -> str | None:
        """SQL for the anchor pages, or None when the list has none: the context
        page and the reader's last few pages (measured: a single page is a weaker
        anchor than a reader's recent reading, docs/evaluation.md)."""
        anchors = []
        if self.scope.context_page_id is not None:
            self.params["co_context"] = int(self.scope.context_page_id)
            anchors.append("SELECT %(co_context)s::integer AS page_id")
        if self.scope.reader_id is not None:
            self.params["co_reader"] = self.scope.reader_id
            recent = int(neural_feed_settings.CO_READ_RECENT_PAGES)
            # The reader's latest interactions through the (reader, id) index,
            # then their distinct pages: never the whole history.
            anchors.append(f"""SELECT page_id FROM (
            SELECT page_id FROM (
                SELECT page_id, id FROM {table_name(Interaction)}
                WHERE reader_id = %(co_reader)s AND weight > 0
                ORDER BY id DESC LIMIT {4 * recent}) r
            GROUP BY page_id ORDER BY max(id) DESC LIMIT {recent}) recent""")
        return " UNION ".join(anchors) or None

    def co_read_ctes(self) -> bool:
        """Add ``co_anchor`` and ``co_read`` (page_id, co_read); False if there is no anchor."""
        anchor = self.co_read_anchor()
        if anchor is None:
            return False
        self.params["co_seconds"] = float(neural_feed_settings.CO_READ_HALF_LIFE_DAYS) * 86400.0
        self.cte("co_anchor", anchor)
        self.cte(
            "co_read",
            f"""SELECT other_page_id AS page_id,
            sum(n / top) / (SELECT count(*) FROM co_anchor) AS co_read
        FROM (SELECT other_page_id, n, max(n) OVER (PARTITION BY page_id) AS top
              FROM (SELECT c.page_id, c.other_page_id, {DECAYED_SQL} AS n
                    FROM {table_name(CoRead)} c
                    WHERE c.page_id IN (SELECT page_id FROM co_anchor)) d) t
        WHERE top > 0
        GROUP BY other_page_id""",
        )
        return True

    def co_read_source(self) -> list[str]:
        """The eligible co-read pages as a candidate source (names of the CTEs added)."""
        if not self.has_co_read:
            return []
        self.cte(
            "co_read_pages",
            f"""SELECT {self.scored()} FROM {self.joined}
        WHERE e.page_id IN (SELECT page_id FROM co_read) AND {self.where}""",
        )
        return ["co_read_pages"]

    def co_read_join(self, row: str) -> str:
        """The join that gives a scored row its co-read term (``x.co_read``), if weighted."""
        if not (self.has_co_read and self.weights.co_read > 0):
            return ""
        return f" LEFT JOIN co_read x ON x.page_id = {row}.page_id"

    def co_read_term(self) -> str:
        """``+ w_co · co_read`` for :meth:`total`, when the join is there."""
        if not (self.has_co_read and self.weights.co_read > 0):
            return ""
        return f" + {self.weights.co_read!r} * COALESCE(x.co_read, 0.0)"
