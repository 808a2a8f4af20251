"""The replay: nothing from the future reaches a held-out event's ranking, and it ranks right."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.bulk import bulk_embeddings, bulk_pages, clustered_vectors
from tests.factories import SectionPageFactory
from tests.helpers import make_reader
from tests.news_world import build_news_world
from wagtail_neural_feed.co_reads import LOOKBACK
from wagtail_neural_feed.conf import neural_feed_settings
from wagtail_neural_feed.evaluation import replay as replay_module
from wagtail_neural_feed.evaluation.engine import FastEngine
from wagtail_neural_feed.evaluation.rankers import co_read_ranker
from wagtail_neural_feed.evaluation.replay import Replay
from wagtail_neural_feed.exceptions import EvaluationError
from wagtail_neural_feed.feeds import get_feed_config
from wagtail_neural_feed.models import (
    CoRead,
    Interaction,
    PageEmbedding,
    PagePopularity,
    ReaderProfile,
)


@pytest.fixture
def news_section(home):
    return SectionPageFactory(parent=home, title="News", slug="news")


def _history():
    rows = list(Interaction.objects.order_by("created_at", "id").values())
    embeddings = {
        row["page_id"]: np.asarray(row["embedding"], dtype=np.float64)
        for row in PageEmbedding.objects.values("page_id", "embedding")
    }
    published = dict(PageEmbedding.objects.values_list("page_id", "first_published_at"))
    return rows, embeddings, published


class Recording(Replay):
    """Looks at the database the ranking reads, just before each held-out event."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def observe(self, event, scope):
        if self.engine == "fast":
            self.seen.append(_fast_state(self, event, scope))
            return
        self.seen.append(
            {
                "event": event,
                "scope_profile": scope.profile,
                "context": scope.context,
                "stored_profiles": ReaderProfile.objects.count(),
                "interactions": list(
                    Interaction.objects.values_list("reader_id", "page_id", "created_at")
                ),
                "popularity": {
                    row.page_id: (row.score, row.computed_at)
                    for row in PagePopularity.objects.all()
                },
                "live": set(
                    PageEmbedding.objects.filter(live=True).values_list("page_id", flat=True)
                ),
                "co_reads": {
                    (row.page_id, row.other_page_id): (row.weight, row.updated_at)
                    for row in CoRead.objects.all()
                },
            }
        )


def _fast_state(replay, event, moment):
    """The fast engine's state as of ``event`` (what it ranks from), as the SQL tables'."""
    state = replay.fast.state
    base = replay.fast.summary.first_at
    when = [base + timedelta(seconds=float(t)) for t in state.log.time[: state.applied]]
    counters = state.counters
    return {
        "event": event,
        "scope_profile": moment.profile,
        "context_page": moment.context_page,
        "stored_profiles": ReaderProfile.objects.count(),
        "interactions": list(
            zip(
                state.log.reader[: state.applied].tolist(),
                state.log.page[: state.applied].tolist(),
                when,
                strict=True,
            )
        ),
        "popularity": {
            int(state.pages[i]): (
                float(counters.score[i]),
                base + timedelta(seconds=float(counters.at[i])),
            )
            for i in np.flatnonzero(counters.has)
        },
        "read": set(
            state.catalogue.page_ids[state.read_items(event.reader_id, event.before)].tolist()
        ),
    }


ENGINES = ["fast", "sql"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("split", ["leave-last-out", "time"])
def test_no_leak_into_profile_popularity_or_already_read(news_section, monkeypatch, split, engine):
    build_news_world(news_section, pages=80, readers=12, reads_per_reader=6, seed=3)
    rows, embeddings, published = _history()
    before_counts = (Interaction.objects.count(), ReaderProfile.objects.count())
    ranked = []
    real_rank = replay_module.rank_all
    real_fast_rank = FastEngine.rank

    def spy(rankers, audience, scope, *, now, **kwargs):
        lists = real_rank(rankers, audience, scope, now=now, **kwargs)
        assert len(lists) == len(rankers) == 6
        for rows in lists:
            assert len(rows) == 10
            ranked.append((now, [published[row.page_id] for row in rows]))
        return lists

    def fast_spy(self, moments, similarities):
        batch = real_fast_rank(self, moments, similarities)
        for moment, lists in zip(moments, batch, strict=True):
            assert len(lists) == 6
            now = self.state.log.time[moment.seq - 1]
            for found in lists:
                assert len(found.items) == 10
                assert (self.catalogue.published[found.items] <= now).all()
                ranked.append(now)
        return batch

    monkeypatch.setattr(replay_module, "rank_all", spy)
    monkeypatch.setattr(FastEngine, "rank", fast_spy)
    # No check against SQL: what the fast engine alone ranks from must not leak.
    replay = Recording(get_feed_config("default"), split=split, engine=engine, check_every=0)
    result = replay.run()
    assert result.summary.held_out == len(replay.seen) > 5
    pop_half_life = neural_feed_settings.POPULARITY_HALF_LIFE_DAYS * 86400
    profile_half_life = neural_feed_settings.PROFILE_HALF_LIFE_DAYS * 86400
    co_half_life = neural_feed_settings.CO_READ_HALF_LIFE_DAYS * 86400
    if engine == "sql":  # the fast engine keeps no co-read store (co-read feeds run on SQL)
        assert any(seen["co_reads"] for seen in replay.seen)
    for seen in replay.seen:
        event = seen["event"]
        t = event.created_at
        past = [row for row in rows if row["created_at"] < t]
        # Already read: the table holds exactly the interactions strictly before t.
        known = sorted((r, p, c) for r, p, c in seen["interactions"])
        assert known == sorted((r["reader_id"], r["page_id"], r["created_at"]) for r in past)
        assert (event.reader_id, event.page_id) not in {(r, p) for r, p, _ in known}
        # Popularity: only pages read before t, each counter the decayed sum of those reads.
        expected = defaultdict(float)
        for row in past:
            expected[row["page_id"]] += row["weight"] * 2 ** (
                -(t - row["created_at"]).total_seconds() / pop_half_life
            )
        assert set(seen["popularity"]) == set(expected)
        for page_id, (score, computed_at) in seen["popularity"].items():
            assert computed_at < t
            decayed = score * 2 ** (-(t - computed_at).total_seconds() / pop_half_life)
            assert decayed == pytest.approx(expected[page_id], rel=1e-6)
        # Profile: the reader's reads before t, decayed, normalised (and what ranking read).
        mine = [row for row in past if row["reader_id"] == event.reader_id]
        total = sum(
            row["weight"]
            * 2 ** (-(t - row["created_at"]).total_seconds() / profile_half_life)
            * embeddings[row["page_id"]]
            for row in mine
        )
        expected_profile = total / np.linalg.norm(total)
        assert seen["stored_profiles"] == 0  # none from the site's (future-aware) history
        np.testing.assert_allclose(seen["scope_profile"], expected_profile, atol=1e-5)
        if engine == "fast":
            # Already read: exactly the reader's pages before t.
            assert seen["read"] == {row["page_id"] for row in mine}
            continue
        # Co-reads: pairs of one reader's positive reads before t, within the window,
        # once per window, each decayed to t (the fast engine must match this).
        co_reads = expected_co_reads(past, t)
        assert set(seen["co_reads"]) == set(co_reads)
        for pair, (weight, updated_at) in seen["co_reads"].items():
            assert updated_at < t
            decayed = weight * 2 ** (-(t - updated_at).total_seconds() / co_half_life)
            assert decayed == pytest.approx(co_reads[pair], rel=1e-6)
        # The catalogue: no page published after t can be shown.
        assert all(published[page_id] <= t for page_id in seen["live"])
    assert len(ranked) == 6 * result.summary.held_out
    if engine == "sql":
        assert all(all(when <= now for when in pages) for now, pages in ranked)
    # Rolled back: the site's data is as it was.
    assert (Interaction.objects.count(), ReaderProfile.objects.count()) == before_counts
    assert PageEmbedding.objects.filter(live=False).count() == 0


def expected_co_reads(past: list[dict], t) -> dict[tuple[int, int], float]:
    """The co-read store as of ``t``, by hand: each positive read, unless the reader
    read that page within the window before, pairs with the reader's other pages
    read within the window before it (of their last LOOKBACK positive reads)."""
    window = timedelta(days=neural_feed_settings.CO_READ_WINDOW_DAYS)
    half_life = neural_feed_settings.CO_READ_HALF_LIFE_DAYS * 86400
    counts: dict[tuple[int, int], float] = defaultdict(float)
    earlier: dict[int, list[dict]] = defaultdict(list)
    for row in past:  # in time order, as the replay inserts them
        if row["weight"] <= 0:
            continue
        mine = earlier[row["reader_id"]]
        near = [y for y in mine[-LOOKBACK:] if abs(y["created_at"] - row["created_at"]) < window]
        mine.append(row)
        if any(y["page_id"] == row["page_id"] for y in near):
            continue
        term = 2 ** (-(t - row["created_at"]).total_seconds() / half_life)
        for other in {y["page_id"] for y in near}:
            counts[(row["page_id"], other)] += term
            counts[(other, row["page_id"])] += term
    return counts


@pytest.mark.parametrize("engine", ENGINES)
def test_most_recent_is_perfect_when_readers_read_the_newest_page(news_section, engine):
    """Any leak of a later page or read would put it first and break this."""
    build_news_world(news_section, pages=60, readers=10, reads_per_reader=5, newest_only=True)
    result = Replay(get_feed_config("default"), split="leave-last-out", engine=engine).run()
    results = result.report.as_dict(result.catalogue_size)
    assert results["most recent"]["events"] == result.summary.held_out == 10
    assert results["most recent"]["ndcg@10"] == pytest.approx(1.0)
    assert results["most recent"]["mrr@10"] == pytest.approx(1.0)
    assert results["random"]["ndcg@10"] < 0.5
    assert set(results) == {
        "feed",
        "random",
        "most recent",
        "most popular",
        "pure similarity",
        "recent + popular",
    }
    assert 0 < results["feed"]["coverage"] <= 1
    assert 0 <= results["feed"]["diversity"] <= 2


@pytest.mark.parametrize("engine", ENGINES)
def test_time_split_holds_out_only_after_the_cutoff(news_section, engine):
    world = build_news_world(news_section, pages=60, readers=10, reads_per_reader=5, seed=1)
    replay = Recording(get_feed_config("default"), split="time", max_events=7, engine=engine)
    replay.run()
    times = [seen["event"].created_at for seen in replay.seen]
    assert len(times) == 7 and times == sorted(times)
    # max_events keeps the latest; all of them are past the start of the history.
    latest = sorted(Interaction.objects.values_list("created_at", flat=True))[-1]
    assert times[-1] <= latest and times[0] > world.start
    assert {seen["event"].part for seen in replay.seen} == {"validation", "test"}


@pytest.mark.parametrize("engine", ENGINES)
def test_too_few_events_refused(news_section, engine):
    world = build_news_world(news_section, pages=20, readers=2, reads_per_reader=3)
    with pytest.raises(EvaluationError, match="held-out events"):
        Replay(get_feed_config("default"), min_held_out=1000, engine=engine).run()
    assert Interaction.objects.count() == world.events  # rolled back


@pytest.mark.parametrize("engine", ENGINES)
def test_context_last_ranks_on_the_previously_read_page(news_section, monkeypatch, engine):
    build_news_world(news_section, pages=60, readers=8, reads_per_reader=5, seed=5)
    rows, embeddings, _ = _history()
    excluded = []
    real_rank = replay_module.rank_all

    def spy(rankers, audience, scope, *, exclude, **kwargs):
        excluded.append(list(exclude))
        return real_rank(rankers, audience, scope, exclude=exclude, **kwargs)

    monkeypatch.setattr(replay_module, "rank_all", spy)
    replay = Recording(get_feed_config("default"), context="last", engine=engine)
    replay.run()
    if engine == "fast":
        # The SQL check (the first three events, then every 50th) ranked these.
        assert len(excluded) == min(3, len(replay.seen))
        for seen in replay.seen:
            event = seen["event"]
            mine = [r for r in rows if r["reader_id"] == event.reader_id]
            previous = [r for r in mine if r["created_at"] < event.created_at][-1]
            assert seen["context_page"] == previous["page_id"]
        return
    assert len(replay.seen) == len(excluded) > 3
    for seen, exclude in zip(replay.seen, excluded, strict=True):
        event = seen["event"]
        mine = [r for r in rows if r["reader_id"] == event.reader_id]
        previous = [r for r in mine if r["created_at"] < event.created_at][-1]
        assert exclude == [previous["page_id"]]
        expected = embeddings[previous["page_id"]]
        np.testing.assert_allclose(seen["context"], expected / np.linalg.norm(expected), atol=1e-5)


@pytest.mark.parametrize("engine", ENGINES)
def test_co_read_counts_only_earlier_readers_of_the_last_page(news_section, monkeypatch, engine):
    """Readers 1-3 read A then B, reader 4 reads A then B, readers 5-8 read A then C,
    in that order; each reader's second read is held out."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    ids = bulk_pages(news_section, 12, published_at=lambda i: start - timedelta(days=1, hours=i))
    bulk_embeddings(ids, clustered_vectors(12, clusters=3, seed=9)[0])
    a, b, c = ids[:3]
    readers = [make_reader() for _ in range(8)]
    for n, reader in enumerate(readers):
        t = start + timedelta(minutes=10 * n)
        Interaction.objects.create(reader=reader, page_id=a, kind="view", weight=1, created_at=t)
        Interaction.objects.create(
            reader=reader,
            page_id=b if n < 4 else c,
            kind="view",
            weight=1,
            created_at=t + timedelta(minutes=1),
        )
    lists = {}
    real_rank = replay_module.rank_all
    real_fast_rank = FastEngine.rank

    def spy(rankers, audience, scope, **kwargs):
        result = real_rank(rankers, audience, scope, **kwargs)
        lists[audience.reader_id] = [(row.page_id, row.score) for row in result[0]]
        return result

    def fast_spy(self, moments, similarities):
        batch = real_fast_rank(self, moments, similarities)
        for moment, result in zip(moments, batch, strict=True):
            found = result[0]
            lists[moment.reader] = list(
                zip(
                    self.catalogue.page_ids[found.items].tolist(),
                    found.scores.tolist(),
                    strict=True,
                )
            )
        return batch

    if engine == "fast":
        monkeypatch.setattr(FastEngine, "rank", fast_spy)
    else:
        monkeypatch.setattr(replay_module, "rank_all", spy)
    config = get_feed_config("default")
    result = Replay(config, rankers=[co_read_ranker(config)], engine=engine, check_every=0).run()
    assert result.summary.held_out == 8
    assert lists[readers[0].pk] == []  # nobody read A before reader 1
    # Reader 4: three earlier readers of A read B; readers 5-8 (later) must not count.
    assert lists[readers[3].pk] == [(b, 3.0)]
    # Reader 8: four earlier co-readers for B, three for C (reader 8's own C is held out).
    assert lists[readers[7].pk] == [(b, 4.0), (c, 3.0)]


@pytest.mark.parametrize("engine", ENGINES)
def test_leave_last_out_holds_out_the_last_eligible_event(news_section, engine):
    """A like on a page already viewed, or a dislike, is not a held-out event:
    the reader's last first-view is."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    ids = bulk_pages(news_section, 6, published_at=lambda i: start - timedelta(days=1, hours=i))
    bulk_embeddings(ids, clustered_vectors(6, clusters=2, seed=2)[0])
    reader = make_reader()
    for minutes, page_id, kind, weight in [
        (0, ids[0], "view", 1.0),
        (1, ids[1], "view", 1.0),
        (2, ids[0], "like", 3.0),
        (3, ids[2], "dislike", -3.0),
    ]:
        Interaction.objects.create(
            reader=reader,
            page_id=page_id,
            kind=kind,
            weight=weight,
            created_at=start + timedelta(minutes=minutes),
        )
    replay = Recording(get_feed_config("default"), engine=engine)
    replay.run()
    assert [(s["event"].page_id, s["event"].created_at) for s in replay.seen] == [
        (ids[1], start + timedelta(minutes=1))
    ]
