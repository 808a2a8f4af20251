"""Embed published pages: missing, stale and failed ones by default.

Idempotent and resumable: every batch commits on its own and rows stay
``pending`` until encoded, so re-running continues where a run stopped.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError

from ... import bulk, indexing
from ...encoders import get_encoder
from ...lexemes import fill_missing_lexemes
from ...models import EmbeddingStatus, PageEmbedding
from ...pagetypes import is_recommendable, recommendable_content_type_ids
from ...schema import resize_vector_columns
from ...text import text_hash
from .. import positive_int


class Command(BaseCommand):
    help = "Embed published recommendable pages (missing, changed, pending and failed ones)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Re-encode every page (and resize the vector columns if the model changed).",
        )
        parser.add_argument(
            "--failed",
            action="store_true",
            help="Only retry failed pages, whatever their attempts.",
        )
        parser.add_argument(
            "--page-type",
            action="append",
            default=[],
            metavar="APP.MODEL",
            help="Limit to these page types (repeatable).",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=None,
            help="Pages per encoder batch (default: EMBED_BATCH_SIZE).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be embedded; change nothing."
        )
        bulk = parser.add_argument_group(
            "bulk load of precomputed vectors (very large sites; docs/operations.md)"
        )
        bulk.add_argument(
            "--from-npy",
            metavar="VECTORS.npy",
            help="Load these vectors (a 2-D .npy array, one row per page) instead of encoding.",
        )
        bulk.add_argument(
            "--ids", metavar="IDS.npy", help="The page id of each vector row (a 1-D .npy array)."
        )
        bulk.add_argument(
            "--model-name",
            help="The model that made the vectors (default: the configured encoder's).",
        )
        bulk.add_argument(
            "--skip-text-hash",
            action="store_true",
            help="Do not read each page's text (faster); the next plain run re-encodes them all.",
        )
        bulk.add_argument(
            "--keep-index",
            action="store_true",
            help="Write into the live HNSW index instead of dropping and rebuilding it.",
        )
        bulk.add_argument(
            "--maintenance-work-mem",
            metavar="SIZE",
            help="For the index build, e.g. 3GB (default: estimated from the rows).",
        )
        bulk.add_argument(
            "--workers",
            type=int,
            default=None,
            help="max_parallel_maintenance_workers for the index build.",
        )

    def handle(self, *args, **options) -> None:
        if options["from_npy"] or options["ids"]:
            self._bulk_load(options)
            return
        content_type_ids = self._content_type_ids(options["page_type"])
        dry_run = options["dry_run"]
        encoder = get_encoder()
        resize = options["rebuild"] and not dry_run
        if resize and resize_vector_columns(encoder.dimension):
            self.stdout.write(f"Resized vector columns to {encoder.dimension} dimensions.")
        created = 0 if dry_run else indexing.ensure_rows(content_type_ids=content_type_ids)
        if not dry_run:
            # Catch up on moves, unpublishing and restrictions missed while
            # updates were disabled (disable_neural_feed_updates).
            indexing.refresh_columns()
        rows = PageEmbedding.objects.filter(live=True, content_type_id__in=content_type_ids)
        if options["failed"]:
            ids = list(rows.filter(status=EmbeddingStatus.FAILED).values_list("pk", flat=True))
        elif options["rebuild"]:
            ids = list(rows.values_list("pk", flat=True))
        else:
            ids = self._stale_ids(rows, encoder.model_name)
        ids.sort()
        if dry_run:
            missing = indexing.Page.objects.live().filter(
                content_type_id__in=content_type_ids, neural_embedding__isnull=True
            )
            self.stdout.write(
                f"Would embed {len(ids) + missing.count()} page(s) "
                f"({missing.count()} without a row)."
            )
            return
        if options["rebuild"]:
            rows.filter(pk__in=ids).update(status=EmbeddingStatus.PENDING)
        started = time.monotonic()
        done = indexing.embed_many(
            ids, batch_size=options["batch_size"], force=True, progress=self._progress
        )
        elapsed = time.monotonic() - started
        failed = PageEmbedding.objects.filter(pk__in=ids, status=EmbeddingStatus.FAILED).count()
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Embedded {done} page(s) in {elapsed:.1f}s ({created} new row(s), "
                f"{failed} failed)."
            )
        )
        filled = fill_missing_lexemes()
        if filled:
            self.stdout.write(f"Stored the full-text words of {filled} page(s) embedded before.")
        if failed:
            raise CommandError(
                f"{failed} page(s) failed to embed; see PageEmbedding.error, "
                "then rerun with --failed."
            )

    def _bulk_load(self, options) -> None:
        if not (options["from_npy"] and options["ids"]):
            raise CommandError("--from-npy and --ids go together: the vectors and their page ids.")
        try:
            vectors = np.load(options["from_npy"], mmap_mode="r")
            ids = np.load(options["ids"])
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the .npy files: {exc}") from exc
        model_name = options["model_name"] or get_encoder().model_name
        try:
            result = bulk.load_vectors(
                ids,
                vectors,
                model_name=model_name,
                hash_text=not options["skip_text_hash"],
                rebuild_index=not options["keep_index"],
                chunk_size=options["batch_size"] or bulk.DEFAULT_CHUNK,
                maintenance_work_mem=options["maintenance_work_mem"],
                parallel_workers=options["workers"],
                progress=self._progress,
            )
        except bulk.BulkLoadError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.loaded} vector(s) in {result.load_seconds:.1f}s; "
                f"HNSW index built in {result.index_seconds:.1f}s."
            )
        )
        if result.skipped:
            self.stdout.write(
                self.style.WARNING(
                    f"Skipped {len(result.skipped)} id(s) with no recommendable page: "
                    f"{result.skipped[:10]}"
                )
            )

    def _content_type_ids(self, labels: list[str]) -> list[int]:
        if not labels:
            return recommendable_content_type_ids()
        ids = []
        for label in labels:
            if label.count(".") != 1:
                raise CommandError(
                    f"--page-type {label!r}: use app_label.ModelName (e.g. blog.ArticlePage)."
                )
            try:
                model = apps.get_model(label)
            except LookupError as exc:
                raise CommandError(f"--page-type {label!r}: {exc}") from exc
            if not is_recommendable(model):
                raise CommandError(f"--page-type {label!r} does not use RecommendablePageMixin.")
            ids.append(ContentType.objects.get_for_model(model).id)
        return ids

    def _stale_ids(self, rows, model_name: str) -> list[int]:
        """Pending or retryable rows, plus ready rows whose text or model changed."""
        ids = set(rows.exclude(status=EmbeddingStatus.READY).values_list("pk", flat=True))
        hashes = dict(rows.filter(status=EmbeddingStatus.READY).values_list("pk", "text_hash"))
        pages = indexing.Page.objects.filter(pk__in=hashes).specific().iterator(chunk_size=500)
        for page in pages:
            if text_hash(indexing.embedding_text(page), model_name) != hashes[page.pk]:
                ids.add(page.pk)
        return list(ids)

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        end = "\r" if sys.stdout.isatty() else "\n"
        self.stdout.write(f"[{bar}] {done}/{total}", ending=end)
