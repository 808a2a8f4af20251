"""Keep ``PageEmbedding`` in step with published pages.

Request-time work is cheap and synchronous (upsert the row's denormalised
columns, hash the text); encoding runs later in :func:`embed_pages`, handed
to the dispatch layer with page ids only. A row left ``pending`` by a process
that died is picked up by :func:`embed_pending` (the sweep and the command).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from wagtail.models import Page, PageViewRestriction

from .conf import neural_feed_settings
from .dispatch import enqueue
from .encoders import BaseEncoder, get_encoder
from .models import DENORMALISED_COLUMNS, EmbeddingStatus, PageEmbedding
from .pagetypes import is_recommendable, recommendable_content_type_ids
from .text import text_hash

logger = logging.getLogger(__name__)


def restricted_paths() -> list[str]:
    """Tree paths of every page carrying a view restriction (one query)."""
    return list(PageViewRestriction.objects.values_list("page__path", flat=True).distinct())


def denormalised_columns(page: Page, *, restricted: Sequence[str] | None = None) -> dict:
    """The columns the ranking query filters on, read from the page.

    Pass ``restricted`` (from :func:`restricted_paths`) when handling many pages,
    to test view restrictions without a query per page.
    """
    if restricted is None:
        is_restricted = page.get_view_restrictions().exists()
    else:
        is_restricted = any(page.path.startswith(path) for path in restricted)
    # Every other column has the page attribute's name.
    return {
        name: is_restricted if name == "view_restricted" else getattr(page, name)
        for name in DENORMALISED_COLUMNS
    }


def embedding_text(page: Page) -> str:
    return page.get_embedding_text()


def _model_name() -> str:
    """The configured encoder's model name, without loading the model; "" if it cannot be built."""
    try:
        return get_encoder().model_name
    except Exception:
        logger.exception("The configured encoder cannot be built; pages will be marked failed")
        return ""


def sync_page(page: Page, *, queue: bool = True) -> PageEmbedding | None:
    """Upsert the page's row; mark it pending (and queue encoding) if its text changed.

    Returns the row, or None when the page type does not take part.
    """
    page = page.specific
    if not is_recommendable(page):
        return None
    columns = denormalised_columns(page)
    digest = text_hash(embedding_text(page), _model_name()) if page.live else None
    row, created = PageEmbedding.objects.get_or_create(page_id=page.pk, defaults=columns)
    needs_encoding = page.live and (
        created or row.text_hash != digest or row.status != EmbeddingStatus.READY
    )
    update = dict(columns)
    if needs_encoding:
        update.update(status=EmbeddingStatus.PENDING, attempts=0, error="")
    if not created or needs_encoding:
        PageEmbedding.objects.filter(pk=page.pk).update(**update, updated_at=timezone.now())
        for key, value in update.items():
            setattr(row, key, value)
    if needs_encoding and queue:
        enqueue("embed_pages", [page.pk])
    return row


def mark_unpublished(page: Page) -> None:
    """Keep the vector (republishing unchanged text needs no encoding) but hide the row."""
    PageEmbedding.objects.filter(pk=page.pk).update(live=False, updated_at=timezone.now())


def refresh_columns(path: str = "") -> int:
    """Re-read the denormalised columns of every row under ``path`` (all rows for "")
    from the page tree, in one statement: after a move, a view-restriction change,
    or bulk work done with updates disabled. Only rows that changed are written
    (a write to the HNSW-indexed table leaves a dead tuple). Returns rows updated."""
    embedding_table = PageEmbedding._meta.db_table
    page_table = Page._meta.db_table
    restriction_table = PageViewRestriction._meta.db_table
    copied = [name for name in DENORMALISED_COLUMNS if name != "view_restricted"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {embedding_table} AS e
               SET {", ".join(f"{name} = p.{name}" for name in copied)},
                   view_restricted = p.restricted,
                   updated_at = now()
              FROM (
                SELECT p.id, {", ".join(f"p.{name}" for name in copied)},
                       EXISTS (
                           SELECT 1 FROM {restriction_table} r
                           JOIN {page_table} rp ON rp.id = r.page_id
                           WHERE p.path LIKE rp.path || '%%'
                       ) AS restricted
                  FROM {page_table} p
                 WHERE p.path LIKE %s
              ) p
             WHERE p.id = e.page_id
               AND ({", ".join(f"e.{name}" for name in copied)}, e.view_restricted)
                   IS DISTINCT FROM ({", ".join(f"p.{name}" for name in copied)}, p.restricted)
            """,
            [path.replace("%", r"\%").replace("_", r"\_") + "%"],
        )
        return cursor.rowcount


def _record_failure(page_ids: Sequence[int], error: BaseException) -> None:
    message = f"{type(error).__name__}: {error}"[:2000]
    PageEmbedding.objects.filter(pk__in=page_ids).update(
        status=EmbeddingStatus.FAILED,
        error=message,
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
    )


def embed_pages(page_ids: Iterable[int], *, force: bool = False) -> int:
    """Encode the given pages in one batch and store their vectors.

    Idempotent: a page whose text and model are unchanged since its last
    successful encoding is skipped unless ``force``. A failing encoder marks the
    rows failed (with the error) and never raises. Returns the number encoded.
    """
    batch = load_batch(page_ids, force=force)
    if batch is None:
        return 0
    return store_batch(batch, encode_batch(batch))


@dataclass
class EncodingBatch:
    """Pages of one batch with their text, ready for the encoder."""

    rows: list[PageEmbedding]
    texts: list[str]
    encoder: BaseEncoder


def load_batch(page_ids: Iterable[int], *, force: bool = False) -> EncodingBatch | None:
    """Load pages and rows in bulk, extract text, drop pages whose text is unchanged."""
    page_ids = list(dict.fromkeys(page_ids))
    if not page_ids:
        return None
    try:
        encoder = get_encoder()
        model_name = encoder.model_name
    except Exception as exc:
        logger.exception("Could not build the encoder for pages %s", page_ids)
        _record_failure(page_ids, exc)
        return None
    existing = {row.page_id: row for row in PageEmbedding.objects.filter(pk__in=page_ids)}
    restricted = restricted_paths()
    rows: list[PageEmbedding] = []
    texts: list[str] = []
    for page in Page.objects.filter(pk__in=page_ids, live=True).specific():
        if not is_recommendable(page):
            continue
        text = embedding_text(page)
        digest = text_hash(text, model_name)
        row = existing.get(page.pk) or PageEmbedding(page_id=page.pk)
        if not force and row.status == EmbeddingStatus.READY and row.text_hash == digest:
            continue
        for key, value in denormalised_columns(page, restricted=restricted).items():
            setattr(row, key, value)
        row.text_hash = digest
        row.model_name = model_name
        rows.append(row)
        texts.append(text)
    if not rows:
        return None
    return EncodingBatch(rows=rows, texts=texts, encoder=encoder)


def encode_batch(batch: EncodingBatch):
    """Run the encoder; returns the vectors, or the exception it raised."""
    try:
        return batch.encoder.embed_documents(batch.texts)
    except Exception as exc:
        logger.exception("Encoding failed for pages %s", [row.page_id for row in batch.rows])
        return exc


_ENCODING_COLUMNS = (
    "embedding",
    "model_name",
    "text_hash",
    "status",
    "error",
    "attempts",
    "embedded_at",
    "created_at",
    "updated_at",
)
_STORED_COLUMNS = (*_ENCODING_COLUMNS, *DENORMALISED_COLUMNS)


def store_batch(batch: EncodingBatch, vectors) -> int:
    """Write the vectors (or the failure) for a prepared batch in one transaction.

    One pipelined upsert statement, executed per row; the vector is cast to
    ``vector`` without a size so a column being resized is never in the way.
    """
    page_ids = [row.page_id for row in batch.rows]
    if isinstance(vectors, BaseException):
        _record_failure(page_ids, vectors)
        return 0
    now = timezone.now()
    params = []
    search_config = str(neural_feed_settings.TEXT_SEARCH_CONFIG)
    for row, vector, text in zip(batch.rows, vectors, batch.texts, strict=True):
        values = {
            **{column: getattr(row, column) for column in DENORMALISED_COLUMNS},
            "embedding": "[" + ",".join(repr(float(x)) for x in vector) + "]",
            "model_name": row.model_name,
            "text_hash": row.text_hash,
            "status": EmbeddingStatus.READY.value,
            "error": "",
            "attempts": 0,
            "embedded_at": now,
            "created_at": row.created_at or now,
            "updated_at": now,
        }
        stored = (values[column] for column in _STORED_COLUMNS)
        params.append([row.page_id, *stored, search_config, text])
    columns = ", ".join((*_STORED_COLUMNS, "lexemes"))
    placeholders = ", ".join(["%s::vector"] + ["%s"] * (len(_STORED_COLUMNS) - 1))
    placeholders += ", to_tsvector(%s::regconfig, %s)"
    updates = ", ".join(
        f"{column} = EXCLUDED.{column}"
        for column in (*_STORED_COLUMNS, "lexemes")
        if column != "created_at"
    )
    sql = (
        f"INSERT INTO {PageEmbedding._meta.db_table} (page_id, {columns}) "
        f"VALUES (%s, {placeholders}) ON CONFLICT (page_id) DO UPDATE SET {updates}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(batch.rows)


def embed_many(
    page_ids: Sequence[int],
    *,
    batch_size: int | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed many pages in batches, encoding one batch while the next is read and the
    previous one written (the model releases the GIL), so the database work hides behind
    the model. Each batch commits on its own: an interrupted run resumes where it stopped.
    """
    size = batch_size or neural_feed_settings.EMBED_BATCH_SIZE
    chunks = [page_ids[start : start + size] for start in range(0, len(page_ids), size)]
    done = 0
    seen = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="neural-feed-encode") as pool:
        in_flight: tuple[EncodingBatch, Future] | None = None
        for chunk in chunks:
            batch = load_batch(chunk, force=force)
            if in_flight is not None:
                previous, future = in_flight
                vectors = future.result()
                in_flight = (batch, pool.submit(encode_batch, batch)) if batch else None
                done += store_batch(previous, vectors)
            elif batch is not None:
                in_flight = (batch, pool.submit(encode_batch, batch))
            seen += len(chunk)
            if progress:
                progress(seen, len(page_ids))
        if in_flight is not None:
            previous, future = in_flight
            done += store_batch(previous, future.result())
    return done


def embed_pending(*, batch_size: int | None = None, limit: int | None = None) -> int:
    """Encode every row awaiting encoding, in batches. The sweep's embedding half."""
    return embed_many(pending_page_ids(limit=limit), batch_size=batch_size)


def ensure_rows(*, content_type_ids: Sequence[int] | None = None) -> int:
    """Create pending rows for live recommendable pages that have none (e.g. after
    installing the app on an existing site). Returns the number created."""
    ct_ids = list(content_type_ids or recommendable_content_type_ids())
    missing = Page.objects.live().filter(content_type_id__in=ct_ids, neural_embedding__isnull=True)
    restricted = restricted_paths()
    rows = [
        PageEmbedding(page_id=page.pk, **denormalised_columns(page, restricted=restricted))
        for page in missing.iterator(chunk_size=2000)
    ]
    PageEmbedding.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def pending_page_ids(*, limit: int | None = None) -> list[int]:
    """Ids of live rows awaiting encoding (pending, or failed and still retryable)."""
    queryset = (
        PageEmbedding.objects.needs_embedding(max_attempts=neural_feed_settings.MAX_EMBED_ATTEMPTS)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return list(queryset[:limit] if limit else queryset)
