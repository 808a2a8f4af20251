"""Load precomputed vectors for very large sites: binary COPY, one upsert a chunk, one
index build.

Encoding a million pages on a CPU takes most of a day; a site that has its
vectors already (a GPU job, another system, a previous install) loads them
here in minutes. Writing a million rows into a live HNSW index costs far more
than building the index once afterwards, so by default the index is dropped
for the load and built at the end, with ``maintenance_work_mem`` raised so
the graph is built in memory (pgvector slows down by an order of magnitude
once it no longer fits). Ranking stays correct without the index, only slow:
load in a quiet hour, or pass ``rebuild_index=False``.

The denormalised columns (live, path, locale, ...) are read from the page
tree inside the upsert, so the rows are exactly what :mod:`indexing` writes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from wagtail.models import Page, PageViewRestriction

from .exceptions import NeuralFeedError
from .hot import refresh_hot_tier
from .indexing import embedding_text
from .models import EmbeddingStatus, PageEmbedding
from .models.fields import HNSW_M, PAGE_HNSW_INDEX, hnsw_index
from .pagetypes import recommendable_content_type_ids
from .schema import column_dimensions
from .text import text_hash

logger = logging.getLogger(__name__)

STAGE_TABLE = "neural_feed_bulk_stage"
#: Rows per COPY + upsert: each chunk commits, so an interrupted load resumes.
DEFAULT_CHUNK = 20_000


class BulkLoadError(NeuralFeedError, ValueError):
    """The vectors cannot be loaded as given (shape, dimension, values)."""


@dataclass
class BulkLoadResult:
    loaded: int = 0
    #: Ids skipped: no such page, or a page type that is not recommendable.
    skipped: list[int] = field(default_factory=list)
    load_seconds: float = 0.0
    index_seconds: float = 0.0


def index_memory_bytes(rows: int, dimensions: int) -> int:
    """``maintenance_work_mem`` an HNSW build of ``rows`` vectors needs to stay in memory.

    pgvector keeps each element's vector (4 bytes a dimension) and its neighbour
    lists (2m on layer 0, fewer above) plus bookkeeping, and a quarter more for
    headroom: 2.2 GB at 1M x 384 (``benchmarks/million.py`` builds that).
    """
    per_row = 8 + 4 * dimensions + 2 * HNSW_M * 8 + 96
    return math.ceil(rows * per_row * 1.25)


def copy_stream(page_ids: np.ndarray, vectors: np.ndarray) -> bytes:
    """PostgreSQL's binary COPY format for ``(page_id bigint, embedding vector)`` rows.

    Built with numpy in one pass (no per-row Python): each row is a field count,
    the id, and pgvector's binary vector (dimension, unused, big-endian float4s).
    """
    dimensions = vectors.shape[1]
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("id_len", ">i4"),
            ("id", ">i8"),
            ("vec_len", ">i4"),
            ("dim", ">i2"),
            ("unused", ">i2"),
            ("values", ">f4", (dimensions,)),
        ]
    )
    rows = np.empty(len(page_ids), dtype=row)
    rows["fields"] = 2
    rows["id_len"] = 8
    rows["id"] = page_ids
    rows["vec_len"] = 4 + 4 * dimensions
    rows["dim"] = dimensions
    rows["unused"] = 0
    rows["values"] = vectors
    header = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
    return header + rows.tobytes() + b"\xff\xff"


def validate(page_ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> tuple:
    """Ids as int64 and vectors as float32, or :class:`BulkLoadError` saying what is wrong."""
    ids = np.asarray(page_ids, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise BulkLoadError(f"vectors must be a 2-D array (got {vectors.ndim} dimensions).")
    if ids.ndim != 1 or len(ids) != len(vectors):
        raise BulkLoadError(f"{len(ids)} page id(s) for {len(vectors)} vector(s): give one each.")
    if len(np.unique(ids)) != len(ids):
        raise BulkLoadError("page ids repeat: give each page one vector.")
    expected = column_dimensions()
    if expected and vectors.shape[1] != expected:
        raise BulkLoadError(
            f"vectors have {vectors.shape[1]} dimensions, the embedding column {expected} "
            "(change DIMENSIONS and run neural_feed_embed --rebuild first)."
        )
    if not np.isfinite(vectors).all():
        raise BulkLoadError("vectors contain NaN or infinite values.")
    if (np.linalg.norm(vectors, axis=1) == 0).any():
        raise BulkLoadError("a zero vector has no direction: cosine ranking cannot use it.")
    return ids, vectors


def load_vectors(
    page_ids: Sequence[int] | np.ndarray,
    vectors: np.ndarray,
    *,
    model_name: str,
    hash_text: bool = True,
    rebuild_index: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
    maintenance_work_mem: str | None = None,
    parallel_workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BulkLoadResult:
    """Store ``vectors[i]`` as page ``page_ids[i]``'s ready embedding, in bulk.

    ``model_name`` names the model that made the vectors. With ``hash_text``
    each row records the hash of the page's current text, so later
    ``neural_feed_embed`` runs and publishes re-encode only pages that change;
    without it (faster) every page counts as stale for the next default run.
    ``maintenance_work_mem`` defaults to :func:`index_memory_bytes` of the table.
    """
    ids, vectors = validate(page_ids, vectors)
    result = BulkLoadResult()
    started = time.perf_counter()
    if rebuild_index:
        drop_page_index()
    types = recommendable_content_type_ids()
    for start in range(0, len(ids), chunk_size):
        chunk_ids = ids[start : start + chunk_size]
        hashes = text_hashes(chunk_ids, model_name, types) if hash_text else {}
        stored = _load_chunk(
            chunk_ids, vectors[start : start + chunk_size], model_name, hashes, types
        )
        result.loaded += len(stored)
        result.skipped.extend(int(pk) for pk in np.setdiff1d(chunk_ids, stored))
        if progress:
            progress(start + len(chunk_ids), len(ids))
    result.load_seconds = time.perf_counter() - started
    if rebuild_index:
        result.index_seconds = build_page_index(
            maintenance_work_mem=maintenance_work_mem, parallel_workers=parallel_workers
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {PageEmbedding._meta.db_table}")
    # The hot tier copies vectors: bring it up to date now rather than have
    # ranking read every changed row from PageEmbedding until the next refresh.
    refresh_hot_tier()
    if result.skipped:
        logger.warning("Bulk load skipped %d id(s): %s", len(result.skipped), result.skipped[:20])
    return result


def text_hashes(page_ids: np.ndarray, model_name: str, types: Sequence[int]) -> dict[int, str]:
    """The text hash of each live page, as :func:`indexing.load_batch` records it."""
    pages = Page.objects.filter(
        pk__in=page_ids.tolist(), live=True, content_type_id__in=types
    ).specific()
    return {page.pk: text_hash(embedding_text(page), model_name) for page in pages}


def _load_chunk(ids: np.ndarray, vectors: np.ndarray, model_name: str, hashes, types) -> list:
    """COPY one chunk into a temporary table and upsert it with the page tree's columns."""
    table = PageEmbedding._meta.db_table
    pages = Page._meta.db_table
    restrictions = PageViewRestriction._meta.db_table
    copied = ("live", "locale_id", "path", "content_type_id", "first_published_at")
    updated = ("embedding", "model_name", "text_hash", "status", "error", "attempts")
    updated += ("updated_at", "embedded_at", "view_restricted", *copied, "last_published_at")
    connection.ensure_connection()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} "
            "(page_id bigint, embedding vector) ON COMMIT DELETE ROWS"
        )
        # Empty even when the caller's transaction spans several chunks.
        cursor.execute(f"TRUNCATE {STAGE_TABLE}")
        with (
            connection.connection.cursor() as raw,
            raw.copy(f"COPY {STAGE_TABLE} (page_id, embedding) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.write(copy_stream(ids, vectors))
        cursor.execute(
            f"""
            INSERT INTO {table} (page_id, embedding, model_name, text_hash, status, error,
                attempts, created_at, updated_at, embedded_at, view_restricted,
                {", ".join(copied)}, last_published_at)
            SELECT p.id, s.embedding, %(model)s, coalesce(h.hash, ''), %(ready)s, '', 0,
                %(now)s, %(now)s, %(now)s,
                EXISTS (SELECT 1 FROM {restrictions} r JOIN {pages} rp ON rp.id = r.page_id
                        WHERE p.path LIKE rp.path || '%%'),
                {", ".join(f"p.{name}" for name in copied)}, p.last_published_at
              FROM {STAGE_TABLE} s
              JOIN {pages} p ON p.id = s.page_id
              LEFT JOIN unnest(%(hash_ids)s::bigint[], %(hashes)s::text[]) AS h(page_id, hash)
                ON h.page_id = s.page_id
             WHERE p.content_type_id = ANY(%(types)s)
            ON CONFLICT (page_id) DO UPDATE SET
                {", ".join(f"{name} = EXCLUDED.{name}" for name in updated)}
            RETURNING page_id
            """,
            {
                "model": model_name,
                "ready": EmbeddingStatus.READY.value,
                "now": timezone.now(),
                "hash_ids": list(hashes),
                "hashes": list(hashes.values()),
                "types": list(types),
            },
        )
        return [row[0] for row in cursor.fetchall()]


def drop_page_index() -> None:
    """Drop the pages' HNSW index (ranking falls back to exact scans until it is rebuilt)."""
    with transaction.atomic(), connection.cursor() as cursor:
        _without_pending_checks(cursor, f"DROP INDEX IF EXISTS {PAGE_HNSW_INDEX}")
    logger.warning("Dropped %s for a bulk load; rebuilding it afterwards", PAGE_HNSW_INDEX)


def _without_pending_checks(cursor, statement: str) -> None:
    """Run index DDL inside a transaction that may hold deferred foreign-key checks
    (PostgreSQL refuses index DDL on a table with pending trigger events)."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(statement)
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def build_page_index(
    *, maintenance_work_mem: str | None = None, parallel_workers: int | None = None
) -> float:
    """(Re)build the pages' HNSW index in one pass; returns the seconds it took.

    The model's own index definition (``models.fields.hnsw_index``), so the
    result is what the migration would create.
    """
    table = PageEmbedding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE embedding IS NOT NULL")
        rows = cursor.fetchone()[0]
    memory = (
        maintenance_work_mem
        or f"{max(64, index_memory_bytes(rows, column_dimensions() or 1) >> 20)}MB"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [memory])
        if parallel_workers is not None:
            cursor.execute(
                "SELECT set_config('max_parallel_maintenance_workers', %s, true)",
                [str(parallel_workers)],
            )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # see _without_pending_checks
        cursor.execute(f"DROP INDEX IF EXISTS {PAGE_HNSW_INDEX}")
        with connection.schema_editor() as editor:
            editor.add_index(PageEmbedding, hnsw_index(PAGE_HNSW_INDEX))
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    seconds = time.perf_counter() - started
    logger.info("Built %s over %d rows in %.1f s (%s)", PAGE_HNSW_INDEX, rows, seconds, memory)
    return seconds
