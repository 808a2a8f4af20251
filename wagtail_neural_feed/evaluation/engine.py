"""The fast engine: every ranker's list for a batch of held-out events, in numpy.

It ranks what the ranking statement's exact branch ranks, from the state of
:mod:`.state` instead of the tables: the eligibility filter as masks
(:mod:`.catalogue`), the score ``w_sim·similarity + w_fresh·freshness +
w_pop·popularity`` with the statement's own terms (:mod:`~..ranking.scoring`:
the same clamps, the same normaliser, the weights from
:func:`~..ranking.scoring.list_weights`, the query vector from
:func:`~..ranking.query_vector`), ties by page id, then the feed's own
diversity step (:mod:`~wagtail_neural_feed.diversity`) on the same pool.

Similarities of a batch of events are one matrix product (the catalogue is
read once per batch, not once per event); the other terms and the top of
each list are vector operations over the eligible pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from .. import diversity
from ..conf import neural_feed_settings
from ..feeds import FeedConfig
from ..ranking import RankedRow, Scope, pool_size, query_vector
from ..ranking.scoring import list_weights
from .batch import NO_SCORE, freshness_rows, top_rows
from .catalogue import Catalogue, ListScope
from .rankers import Ranker, draws_from, page_draw_part
from .state import ReplayState

SECONDS_PER_DAY = 86400.0


@dataclass
class Ranked:
    """One ranker's list: catalogue positions in list order, and their scores."""

    items: np.ndarray
    scores: np.ndarray


@dataclass
class Moment:
    """What one list is ranked from: the reader, the time and the state before it."""

    seq: int
    reader: int
    before: int
    now: float
    #: The popularity term of every catalogue page, per popularity half-life (seconds).
    popularity: dict[float, np.ndarray]
    popularity_max: float
    profile: np.ndarray | None
    context_page: int | None
    scope: ListScope
    #: Per ranker: the row of its query vector in the batch's similarities, or -1.
    columns: list[int]
    weights: list


class FastEngine:
    """Ranks held-out events for ``rankers`` from a :class:`ReplayState`."""

    def __init__(
        self,
        rankers: Sequence[Ranker],
        state: ReplayState,
        *,
        k: int,
        chain: list[np.ndarray | None],
        default_scopes: dict[int | None, ListScope],
    ) -> None:
        self.rankers, self.state, self.k = list(rankers), state, k
        self.catalogue: Catalogue = state.catalogue
        self.chain, self.default_scopes = chain, default_scopes
        popularity_days = float(neural_feed_settings.POPULARITY_HALF_LIFE_DAYS)
        self.fresh_seconds = [r.config.freshness_half_life_days * SECONDS_PER_DAY for r in rankers]
        self.pop_seconds = [
            (r.config.popularity_half_life_days or popularity_days) * SECONDS_PER_DAY
            for r in rankers
        ]
        self.pools = [pool_size(r.config, k) for r in rankers]
        self.personal = [r.personal and not r.random and not r.co_read for r in rankers]
        #: Rankers that share a filter (page types, section, the "already read" rule).
        self.groups: dict = {}
        for index, ranker in enumerate(self.rankers):
            config = ranker.config
            key = (config.page_types, config.root_page_id, _reads_interactions(config))
            self.groups.setdefault(key, []).append(index)
        #: The random ranker's draw: the page's part, the same for every event.
        self.page_draws = page_draw_part(self.catalogue.page_ids)[None, :]
        published = self.catalogue.published
        #: Publication times, -inf for pages never published (always shown).
        self.published_or_never = np.where(np.isnan(published), -np.inf, published)
        #: Terms of the batch being ranked, by (kind, half-life).
        self._terms: dict = {}

    # --- the state as of an event --------------------------------------------

    def moment(self, seq, reader, before, now, counters, context_page, queries) -> Moment:
        """Profile, context and each ranker's query vector and weights; vectors go to
        ``queries`` (their similarities are computed for the whole batch at once)."""
        profile = self.state.profile(reader, before, self.chain)
        context = None
        if context_page is not None:
            item = int(self.catalogue.index_of([context_page])[0])
            context = self.catalogue.vectors[item] if item >= 0 else None
        columns, weights, seen = [], [], {}
        scopes = {
            personal: Scope(
                reader_id=reader,
                profile=profile if personal else None,
                context=context if personal else None,
                site_paths=(),
                section_path=None,
                locale_id=None,
                popularity_max=counters.maximum,
            )
            for personal in (False, True)
        }
        for ranker, personal in zip(self.rankers, self.personal, strict=True):
            scope = scopes[personal]
            config = ranker.config
            # Without a context page the query vector is the profile's, whatever the
            # feed's context settings: one vector (one similarity column) for all.
            key = (
                (personal,)
                if context is None or not personal
                else (personal, config.context_weight, "context" in config.cold_start)
            )
            if key not in seen:
                vector = query_vector(config, scope)
                seen[key] = -1 if vector is None else len(queries)
                if vector is not None:
                    queries.append(vector)
            columns.append(seen[key])
            weights.append(list_weights(config, scope, has_vector=seen[key] >= 0))
        default = self.default_scopes[self.rankers[0].config.root_page_id]
        scope = self.catalogue.scope_for(self.rankers[0].config, context_page, default)
        popularity = {
            seconds: counters.terms(self.state.catalogue_counter, now, seconds)
            for seconds in set(self.pop_seconds)
        }
        return Moment(
            seq,
            reader,
            before,
            now,
            popularity,
            counters.maximum,
            profile,
            context_page,
            scope,
            columns,
            weights,
        )

    def similarities(self, queries: list[np.ndarray]) -> np.ndarray:
        """Cosine similarity of every query vector (a row) to every page (a column),
        pgvector's ``1 - <=>``: rows, so each event's scores read contiguous memory."""
        if not queries:
            return np.zeros((0, len(self.catalogue)))
        matrix = np.stack(queries).astype(np.float32)
        dots = np.array((self.catalogue.vectors @ matrix.T).T, dtype=np.float64, order="C")
        norms = np.outer(np.linalg.norm(matrix.astype(np.float64), axis=1), self.catalogue.norms)
        return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)

    # --- the lists --------------------------------------------------------------

    def rank(self, moments: list[Moment], similarities: np.ndarray) -> list[list[Ranked]]:
        """Every ranker's list for each event of a batch (one list of lists an event)."""
        lists: list[list] = [[None] * len(self.rankers) for _ in moments]
        self._terms = {}
        now = np.array([moment.now for moment in moments])
        for members in self.groups.values():
            mask = self._eligible(self.rankers[members[0]].config, moments, now)
            scored = []
            for index in members:
                ranker = self.rankers[index]
                if ranker.random:
                    draws = draws_from(self.page_draws, _seqs(moments))
                    scores = np.where(mask, -draws.astype(np.float64), NO_SCORE)
                    for row, (items, _) in enumerate(top_rows(scores, self.k)):
                        positions = -np.arange(1, len(items) + 1, dtype=np.float64)
                        lists[row][index] = Ranked(items, positions)
                elif ranker.co_read:
                    for row, moment in enumerate(moments):
                        lists[row][index] = self._co_read(mask[row], moment)
                else:
                    scored.append(index)
            for index in scored:
                self._score(index, mask, moments, now, similarities, lists)
        return lists

    def _eligible(self, config: FeedConfig, moments: list[Moment], now: np.ndarray):
        """Row per event: the pages ``config`` may list then (``eligibility_sql``)."""
        catalogue = self.catalogue
        default = self.default_scopes[config.root_page_id]
        mask = np.empty((len(moments), len(catalogue)), dtype=bool)
        for row, moment in enumerate(moments):
            scope = catalogue.scope_for(config, moment.context_page, default)
            mask[row] = catalogue.base_mask(config, scope)
        mask &= self.published_or_never[None, :] <= now[:, None]
        for row, moment in enumerate(moments):
            if _reads_interactions(config):
                mask[row, self.state.read_items(moment.reader, moment.before)] = False
            if moment.context_page is not None:
                item = int(catalogue.index_of([moment.context_page])[0])
                if item >= 0:
                    mask[row, item] = False
        return mask

    def _score(self, index, mask, moments: list[Moment], now, similarities, lists) -> None:
        """One scored ranker over the batch: ``w_sim·sim + w_fresh·fresh + w_pop·pop``,
        elementwise as SQL adds them (exact ties stay exact), then its top and diversity."""
        weights = [moment.weights[index] for moment in moments]
        key = ("f", self.fresh_seconds[index])
        if key not in self._terms:
            self._terms[key] = freshness_rows(self.catalogue.published, now, key[1])
        key_p = ("p", self.pop_seconds[index])
        if key_p not in self._terms:
            self._terms[key_p] = np.stack([m.popularity[key_p[1]] for m in moments])
        w_fresh = np.array([w.freshness for w in weights])[:, None]
        w_pop = np.array([w.popularity for w in weights])[:, None]
        # In place, in the order SQL adds the terms; a term whose weight is 0 on every
        # row adds exactly 0 (the terms are finite) and is skipped.
        scores = np.multiply(w_fresh, self._terms[key])
        part = np.empty_like(scores)
        columns = [moment.columns[index] for moment in moments]
        if any(column >= 0 for column in columns):
            w_sim = [w.similarity if c >= 0 else 0.0 for w, c in zip(weights, columns, strict=True)]
            if any(w_sim):
                sims = similarities[columns]  # a row -1 is multiplied by 0
                scores += np.multiply(np.array(w_sim)[:, None], sims, out=part)
        if w_pop.any():
            scores += np.multiply(w_pop, self._terms[key_p], out=part)
        np.copyto(scores, NO_SCORE, where=~mask)
        for row, (items, values) in enumerate(top_rows(scores, self.pools[index])):
            lists[row][index] = self._diversified(index, Ranked(items, values), moments[row])

    def _diversified(self, index: int, ranked: Ranked, moment: Moment) -> Ranked:
        """The feed's diversity step on the pool, as ``recommend()`` applies it."""
        config: FeedConfig = self.rankers[index].config
        if config.diversity == "none" or len(ranked.items) == 0:
            return Ranked(ranked.items[: self.k], ranked.scores[: self.k])
        catalogue = self.catalogue
        rows = [
            RankedRow(
                page_id=int(catalogue.page_ids[item]),
                content_type_id=int(catalogue.content_types[item]),
                path=catalogue.paths[item],
                similarity=0.0,
                freshness=0.0,
                popularity=0.0,
                score=float(score),
                embedding=catalogue.vectors[item],
            )
            for item, score in zip(ranked.items, ranked.scores, strict=True)
        ]
        if config.diversity == "mmr":
            picked = diversity.mmr(rows, limit=self.k, lambda_=config.mmr_lambda)
        else:
            scope = self.catalogue.scope_for(
                config, moment.context_page, self.default_scopes[config.root_page_id]
            )
            base = scope.section_path or diversity.site_path_of(rows, scope.site_paths)
            picked = diversity.cap_per_section(
                rows, limit=self.k, cap=config.section_cap, base_path=base
            )
        items = catalogue.index_of([row.page_id for row in picked])
        return Ranked(items, np.array([row.score for row in picked]))

    def _co_read(self, eligible: np.ndarray, moment: Moment) -> Ranked:
        anchor = self.state.last_page(moment.reader, moment.before)
        if anchor is None:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0))
        items, counts = self.state.co_reads(anchor, moment.reader, moment.before)
        keep = eligible[items]
        items, counts = items[keep], counts[keep].astype(np.float64)
        # Counts are positive and items ascending: a stable sort on the count is
        # ORDER BY count DESC, page_id (top_rows' order, without its partition).
        top = np.argsort(-counts, kind="stable")[: self.k]
        return Ranked(items[top], counts[top])


def _seqs(moments: list[Moment]) -> np.ndarray:
    return np.array([moment.seq for moment in moments], dtype=np.int64)[:, None]


def supports(config: FeedConfig) -> bool:
    """Whether the fast engine reproduces ``config``'s score: the three terms above.
    A feed with another score term (a co-read weight, say) is ranked by SQL instead."""
    return not any("co_read" in spec.name and getattr(config, spec.name) for spec in fields(config))


def _reads_interactions(config: FeedConfig) -> bool:
    """Whether the "already read" filter reads the interaction table (as in the replay)."""
    return config.exclude_read and config.interaction_source in (None, "", "interactions")


def freshness(published: np.ndarray, now: float, seconds: float) -> np.ndarray:
    """``FRESHNESS_SQL``: exp(-ln2·age/half-life), clamped, 0 without a publication time."""
    age = np.maximum(0.0, now - published)
    value = np.exp(np.maximum(-700.0, -np.log(2) * age / seconds))
    return np.where(np.isnan(published), 0.0, value)
