"""The ``embed_pages`` job: a burst of publishes becomes a few encoder batches.

The dispatch layer merges the page ids of ``embed_pages`` jobs that are
queued in this process and not started yet (see ``jobs.MERGEABLE_JOBS``), so
100 publishes from one process reach the encoder as one job, not 100. The job
then fills its last batch with other pending pages (another process's
publishes, a lost job's pages), in ``EMBED_BATCH_SIZE`` batches. A later copy
finding its pages already embedded is a cheap no-op (``load_batch`` skips
unchanged ready rows).
"""

from __future__ import annotations

from collections.abc import Iterable

from .conf import neural_feed_settings
from .indexing import embed_many, pending_page_ids


def embed_published(page_ids: Iterable[int]) -> int:
    """Embed these pages, plus pending ones up to a full batch; returns pages encoded."""
    ids = list(dict.fromkeys(int(pk) for pk in page_ids))
    size = int(neural_feed_settings.EMBED_BATCH_SIZE)
    room = -len(ids) % size  # what is left in the last batch
    if room:
        queued = set(ids)
        ids += [pk for pk in pending_page_ids(limit=room + len(ids)) if pk not in queued][:room]
    return embed_many(ids, batch_size=size)
