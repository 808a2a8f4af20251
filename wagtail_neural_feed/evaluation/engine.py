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
from dataclasses import dataclass

import numpy as np

from .. import diversity
from ..conf import neural_feed_settings
from ..feeds import FeedConfig
from ..ranking import RankedRow, Scope, pool_size, query_vector
from ..ranking.scoring import list_weights
from .catalogue import Catalogue, ListScope
from .rankers import Ranker, random_draws
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
    #: Per ranker: the column of its query vector in the batch's similarities, or -1.
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
        for ranker in self.rankers:
            personal = ranker.personal and not ranker.random and not ranker.co_read
            scope = Scope(
                reader_id=reader,
                profile=profile if personal else None,
                context=context if personal else None,
                site_paths=(),
                section_path=None,
                locale_id=None,
                popularity_max=counters.maximum,
            )
            config = ranker.config
            key = (personal, config.context_weight, "context" in config.cold_start)
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
        """Cosine similarity of every page to every query vector (pgvector's ``1 - <=>``)."""
        if not queries:
            return np.zeros((len(self.catalogue), 0))
        matrix = np.stack(queries).astype(np.float32)
        dots = (self.catalogue.vectors @ matrix.T).astype(np.float64)
        norms = np.outer(self.catalogue.norms, np.linalg.norm(matrix.astype(np.float64), axis=1))
        return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)

    # --- the lists --------------------------------------------------------------

    def rank(self, moment: Moment, similarities: np.ndarray) -> list[Ranked]:
        """Every ranker's list for one event."""
        catalogue = self.catalogue
        published = catalogue.published
        on_time = np.isnan(published) | (published <= moment.now)
        read = self.state.read_items(moment.reader, moment.before)
        context_item = -1
        if moment.context_page is not None:
            context_item = int(catalogue.index_of([moment.context_page])[0])
        eligible_of: dict = {}
        scored = []
        lists: list[Ranked | None] = [None] * len(self.rankers)
        for index, ranker in enumerate(self.rankers):
            config = ranker.config
            key = (config.page_types, config.root_page_id, _reads_interactions(config))
            if key not in eligible_of:
                default = self.default_scopes[config.root_page_id]
                scope = catalogue.scope_for(config, moment.context_page, default)
                mask = catalogue.base_mask(config, scope) & on_time
                if key[2]:
                    mask[read] = False
                if context_item >= 0:
                    mask[context_item] = False
                eligible_of[key] = np.flatnonzero(mask)
            eligible = eligible_of[key]
            if ranker.random:
                lists[index] = self._random(eligible, moment.seq)
            elif ranker.co_read:
                lists[index] = self._co_read(eligible, moment)
            else:
                scored.append((index, key))
        for key in dict.fromkeys(key for _, key in scored):
            members = [index for index, own in scored if own == key]
            self._score(members, eligible_of[key], moment, similarities, lists)
        return lists

    def _score(self, members, eligible, moment: Moment, similarities, lists) -> None:
        """The scored rankers sharing one eligibility filter: one matrix of terms, one product."""
        plan = []
        for index in members:
            w, column = moment.weights[index], moment.columns[index]
            entries = [
                (("f", self.fresh_seconds[index]), w.freshness),
                (("p", self.pop_seconds[index]), w.popularity),
            ]
            if column >= 0:
                entries.insert(0, (("s", column), w.similarity))
            plan.append(entries)
        names = list(dict.fromkeys(name for entries in plan for name, _ in entries))
        matrix = np.stack([self._term(name, eligible, moment, similarities) for name in names])
        coefficients = np.zeros((len(members), len(names)))
        for slot, entries in enumerate(plan):
            for name, weight in entries:
                coefficients[slot, names.index(name)] = weight
        # Weights 0 and 1 keep exact ties exact (0·x = 0, 1·x = x), as in SQL.
        scores = coefficients @ matrix
        for slot, index in enumerate(members):
            top = _top(scores[slot], self.pools[index])
            lists[index] = self._diversified(
                index, Ranked(eligible[top], scores[slot][top]), moment
            )

    def _term(self, name, eligible, moment: Moment, similarities) -> np.ndarray:
        kind, value = name
        if kind == "s":
            return similarities[eligible, value]
        if kind == "f":
            return freshness(self.catalogue.published[eligible], moment.now, value)
        return moment.popularity[value][eligible]

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

    def _random(self, eligible: np.ndarray, seq: int) -> Ranked:
        draws = random_draws(self.catalogue.page_ids[eligible], seq)
        top = _top(-draws.astype(np.float64), self.k)
        return Ranked(eligible[top], -np.arange(1, len(top) + 1, dtype=np.float64))

    def _co_read(self, eligible: np.ndarray, moment: Moment) -> Ranked:
        anchor = self.state.last_page(moment.reader, moment.before)
        if anchor is None:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0))
        items, counts = self.state.co_reads(anchor, moment.reader, moment.before)
        keep = np.isin(items, eligible)
        items, counts = items[keep], counts[keep].astype(np.float64)
        top = _top(counts, self.k)
        return Ranked(items[top], counts[top])


def _reads_interactions(config: FeedConfig) -> bool:
    """Whether the "already read" filter reads the interaction table (as in the replay)."""
    return config.exclude_read and config.interaction_source in (None, "", "interactions")


def freshness(published: np.ndarray, now: float, seconds: float) -> np.ndarray:
    """``FRESHNESS_SQL``: exp(-ln2·age/half-life), clamped, 0 without a publication time."""
    age = np.maximum(0.0, now - published)
    value = np.exp(np.maximum(-700.0, -np.log(2) * age / seconds))
    return np.where(np.isnan(published), 0.0, value)


def _top(scores: np.ndarray, count: int) -> np.ndarray:
    """Positions of the ``count`` best scores, best first, ties by position (page id)."""
    size = len(scores)
    if size == 0 or count <= 0:
        return np.zeros(0, dtype=np.int64)
    if size > count:
        part = np.argpartition(-scores, count - 1)[:count]
        threshold = scores[part].min()
        candidates = np.flatnonzero(scores >= threshold)
    else:
        candidates = np.arange(size)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:count]]
