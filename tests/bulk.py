"""Fast synthetic pages and embeddings for large ranking tests and benchmarks.

Publishing 20 000 pages through Wagtail would take minutes; these helpers
insert page-tree rows (with correct treebeard paths) and their embeddings
directly, which is what the ranking reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from wagtail.models import Locale, Page

from tests.helpers import vector_literal
from tests.testapp.models import NewsPage
from wagtail_neural_feed.models import CoRead, EmbeddingStatus, PageEmbedding, PagePopularity


def clustered_vectors(
    count: int, *, clusters: int = 50, dim: int = 384, spread: float = 0.6, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors around ``clusters`` random centres: (vectors, labels, centres)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.integers(0, clusters, size=count)
    noise = rng.normal(size=(count, dim)).astype(np.float32) * (spread / np.sqrt(dim))
    vectors = centres[labels] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, labels, centres


def bulk_pages(
    parent: Page,
    count: int,
    *,
    model: type[Page] = NewsPage,
    published_at: Callable[[int], datetime] | None = None,
    locale: Locale | None = None,
    batch_size: int = 5000,
) -> list[int]:
    """Insert ``count`` live children of a childless ``parent``; returns their ids in order."""
    assert parent.numchild == 0, "bulk_pages needs a parent without children"
    now = timezone.now()
    published_at = published_at or (lambda i: now - timedelta(hours=i))
    content_type = ContentType.objects.get_for_model(model)
    locale_id = (locale or parent.locale).pk
    ids: list[int] = []
    for start in range(0, count, batch_size):
        pages = []
        for i in range(start, min(count, start + batch_size)):
            slug = f"synthetic-{parent.pk}-{i}"
            when = published_at(i)
            pages.append(
                Page(
                    title=f"Synthetic page {i}",
                    draft_title=f"Synthetic page {i}",
                    slug=slug,
                    path=Page._get_path(parent.path, parent.depth + 1, i + 1),
                    depth=parent.depth + 1,
                    numchild=0,
                    url_path=f"{parent.url_path}{slug}/",
                    content_type=content_type,
                    live=True,
                    has_unpublished_changes=False,
                    first_published_at=when,
                    last_published_at=when,
                    locale_id=locale_id,
                )
            )
        created = Page.objects.bulk_create(pages)
        ids.extend(page.pk for page in created)
    table = model._meta.db_table
    pointer = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ("{pointer}", summary) SELECT unnest(%s::int[]), %s',
            [ids, ""],
        )
    Page.objects.filter(pk=parent.pk).update(numchild=count)
    parent.numchild = count
    return ids


def bulk_embeddings(page_ids: Sequence[int], vectors: np.ndarray) -> None:
    """Ready embeddings for pages made by :func:`bulk_pages`, with their tree columns."""
    rows = Page.objects.filter(pk__in=page_ids).values_list(
        "pk", "path", "content_type_id", "locale_id", "first_published_at", "last_published_at"
    )
    by_id = {row[0]: row for row in rows}
    now = timezone.now()
    # Embedded (and last written) a while ago, as a site's pages are: not "changed
    # since the hot tier's refresh".
    embedded = now - timedelta(hours=1)
    params = []
    for page_id, vector in zip(page_ids, vectors, strict=True):
        _, path, ct, locale_id, first, last = by_id[page_id]
        params.append(
            (
                page_id,
                vector_literal(vector),
                path,
                ct,
                locale_id,
                first,
                last,
                now,
                embedded,
                embedded,
            )
        )
    table = PageEmbedding._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"""INSERT INTO "{table}" (page_id, embedding, model_name, text_hash, status,
                error, attempts, live, view_restricted, path, content_type_id, locale_id,
                first_published_at, last_published_at, created_at, updated_at, embedded_at)
            VALUES (%s, %s::vector, 'synthetic', '', '{EmbeddingStatus.READY}', '', 0, true,
                false, %s, %s, %s, %s, %s, %s, %s, %s)""",
            params,
        )
        # Fresh statistics, as autovacuum would gather them, so the planner
        # knows the table is large and walks the HNSW index.
        cursor.execute(f'ANALYZE "{table}"')


def remove_tree(root: Page) -> None:
    """Delete ``root`` and everything below it with a few statements.

    ``Page.delete()`` handles pages one by one (signals, revisions, references),
    which takes minutes for a synthetic tree of tens of thousands of pages.
    """
    from wagtail.models import get_page_models

    pattern = root.path + "%"
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM wagtailcore_page WHERE path LIKE %s", [pattern])
        page_ids = [row[0] for row in cursor.fetchall()]
        for model in (PageEmbedding, PagePopularity):
            cursor.execute(
                f'DELETE FROM "{model._meta.db_table}" WHERE page_id = ANY(%s)', [page_ids]
            )
        cursor.execute(
            f'DELETE FROM "{CoRead._meta.db_table}"'
            " WHERE page_id = ANY(%(ids)s) OR other_page_id = ANY(%(ids)s)",
            {"ids": page_ids},
        )
        for model in get_page_models():
            if model is Page or model._meta.proxy:
                continue
            cursor.execute(
                f'DELETE FROM "{model._meta.db_table}" WHERE "{model._meta.pk.column}" = ANY(%s)',
                [page_ids],
            )
        for table in ("wagtailcore_revision", "wagtailcore_referenceindex"):
            cursor.execute(
                f"DELETE FROM {table} WHERE object_id = ANY(%s::text[])",
                [[str(pk) for pk in page_ids]],
            )
        cursor.execute("DELETE FROM wagtailcore_page WHERE id = ANY(%s)", [page_ids])
    parent_path = root.path[: -Page.steplen]
    Page.objects.filter(path=parent_path).update(numchild=root.get_parent().get_children_count())
