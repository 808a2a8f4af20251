"""A synthetic news-like history for the evaluation tests and benchmark.

Pages are published one after another, each on a topic and with a latent
appeal; readers prefer a topic or two. Each read picks, among the pages
published in the last few days and not yet read, one with probability
proportional to appeal, topic affinity and a steep recency factor: a stream
where freshness, popularity and similarity all carry signal, recency most.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection
from wagtail.models import Page

from tests.bulk import bulk_embeddings, bulk_pages, clustered_vectors
from wagtail_neural_feed.models import Interaction, Reader


@dataclass
class NewsWorld:
    page_ids: list[int]
    reader_ids: list[int]
    events: int
    start: datetime


def build_news_world(
    parent: Page,
    *,
    pages: int = 300,
    readers: int = 60,
    reads_per_reader: int = 12,
    topics: int = 8,
    days: float = 30.0,
    seed: int = 0,
    newest_only: bool = False,
) -> NewsWorld:
    """Pages under ``parent`` and a reading history; ``newest_only``: every read is
    the newest page the reader has not read (a pure-recency world)."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=days) / pages
    published = [start + step * i for i in range(pages)]
    page_ids = bulk_pages(parent, pages, published_at=lambda i: published[i])
    vectors, labels, _ = clustered_vectors(pages, clusters=topics, seed=seed)
    bulk_embeddings(page_ids, vectors)
    reader_rows = Reader.objects.bulk_create(
        [Reader(visitor_id=uuid.uuid4()) for _ in range(readers)]
    )
    appeal = rng.lognormal(0.0, 1.0, size=pages)
    published_s = np.array([(p - start).total_seconds() for p in published])
    rows = []
    for reader in reader_rows:
        liked = rng.choice(topics, size=2, replace=False)
        affinity = np.where(np.isin(labels, liked), 4.0, 1.0)
        times = np.sort(rng.uniform(days * 0.2, days, size=reads_per_reader)) * 86400
        read: set[int] = set()
        for t in times:
            age = t - published_s
            open_ = (age >= 0) & (age < 4 * 86400)
            open_[list(read)] = False
            if not open_.any():
                continue
            if newest_only:
                choice = int(np.flatnonzero(open_)[-1])
            else:
                weights = np.where(open_, appeal * affinity * np.exp(-age / 43200.0), 0.0)
                choice = int(rng.choice(pages, p=weights / weights.sum()))
            read.add(choice)
            rows.append((reader.pk, page_ids[choice], start + timedelta(seconds=float(t))))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"""INSERT INTO {Interaction._meta.db_table}
                (reader_id, page_id, kind, weight, created_at) VALUES (%s, %s, 'view', 1.0, %s)""",
            rows,
        )
    return NewsWorld(page_ids, [r.pk for r in reader_rows], len(rows), start)
