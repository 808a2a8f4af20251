"""Reader profiles: a time-decayed weighted mean of the pages a reader interacted with.

For a reader and a feed, with interactions ``i`` (weight ``w_i``, time ``t_i``)
on pages with embeddings ``e_i``, the profile is ``normalise(Σ w_i · 2^((t_i - T)/h) · e_i)``
for a reference time ``T`` and the half-life ``h`` (``PROFILE_HALF_LIFE_DAYS``).
Dislikes carry negative weights and pull the profile away.

The sum is stored (``sum_vector`` at ``reference_time``), so one new
interaction costs O(1): decay the stored sum to the new time, add the new
term. ``last_interaction_id`` is a high-water mark: interactions at or below
it are already in the sum, which makes updates idempotent and lets
concurrent updates for one reader (serialised by ``SELECT … FOR UPDATE``)
each add exactly the interactions that are new to them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import datetime

import numpy as np
from django.db import transaction

from .co_reads import update_co_reads
from .compat import get_page_model
from .conf import neural_feed_settings
from .feeds import DEFAULT_FEED_SLUG, FeedConfig, get_feed_config, registered_feeds
from .list_cache import bump_reader_version
from .models import EmbeddingStatus, Interaction, PageEmbedding, Reader, ReaderProfile
from .pagetypes import content_type_ids
from .sources import liked_page_ids, source_feeds
from .vectors import has_direction, normalise

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86400.0


def decay(seconds: float) -> float:
    """The factor by which an interest fades over ``seconds``."""
    half_life = float(neural_feed_settings.PROFILE_HALF_LIFE_DAYS) * SECONDS_PER_DAY
    return math.pow(2.0, -seconds / half_life)


def profile_feeds() -> list[FeedConfig]:
    """Feeds that keep their own profiles from built-in interactions."""
    return [
        config
        for config in registered_feeds().values()
        if config.interaction_source in (None, "", "interactions")
    ]


def feed_accepts(config: FeedConfig, row: dict) -> bool:
    """Whether an interaction on a page with these embedding columns counts for ``config``.

    The default feed counts everything; other feeds count pages of their
    types and section, so a "news" profile reflects news reading.
    """
    if config.slug == DEFAULT_FEED_SLUG:
        return True
    if config.page_types and row["content_type_id"] not in content_type_ids(config.page_types):
        return False
    if config.root_page_id is not None:
        root_path = _page_path(config.root_page_id)
        if root_path is None or not row["path"].startswith(root_path):
            return False
    return True


def _page_path(page_id: int) -> str | None:
    return get_page_model().objects.filter(pk=page_id).values_list("path", flat=True).first()


def run_profile_update(reader_id: int) -> int:
    """The ``update_profiles`` job: clear the reader's pending flag, then fold in new
    interactions (clearing first means nothing committed meanwhile is missed), into
    the profiles and the co-read store. If the co-reads fail, the flag is set again
    so the sweep retries them (the profiles' own high-water marks skip what is done)."""
    Reader.objects.filter(pk=reader_id).update(profile_pending=False)
    updated = update_profiles(reader_id)
    try:
        update_co_reads(reader_id)
    except Exception:
        Reader.objects.filter(pk=reader_id).update(profile_pending=True)
        raise
    return updated


def update_profiles(reader_id: int) -> int:
    """Fold a reader's new interactions into each of their feed profiles. Returns profiles updated.

    Idempotent: running it twice, or concurrently, adds each interaction once.
    """
    updated = 0
    for config in profile_feeds():
        if update_profile(reader_id, config):
            updated += 1
    return updated


def update_profile(reader_id: int, config: FeedConfig) -> bool:
    """Add the interactions above the high-water mark to one profile (O(new interactions))."""
    with transaction.atomic():
        # The reader's row lock orders us after every interaction in flight
        # (see tracking._insert_and_flag), so no earlier id can commit later.
        if not _lock_reader(reader_id):
            return False
        profile, _ = ReaderProfile.objects.select_for_update().get_or_create(
            reader_id=reader_id, feed=config.slug
        )
        new = list(
            Interaction.objects.filter(reader_id=reader_id, id__gt=profile.last_interaction_id)
            .order_by("id")
            .values("id", "page_id", "weight", "created_at")
        )
        if not new:
            return False
        total, reference, added, missing = _fold(
            config, new, _as_array(profile.sum_vector), profile.reference_time
        )
        profile.interaction_count += added
        profile.last_interaction_id = new[-1]["id"]
        _store(profile, total, reference, stale=profile.stale or missing)
    return True


def _fold(config: FeedConfig, rows: list[dict], total, reference):
    """Add interactions to a decayed sum: (total, reference, added, any embedding missing).

    An interaction whose page has no embedding yet is skipped and reported,
    so the profile is marked stale and the sweep recomputes it later.
    """
    embeddings = _embeddings(row["page_id"] for row in rows)
    added, missing = 0, False
    for row in rows:
        page = embeddings.get(row["page_id"])
        if page is None:
            missing = True
            continue
        if not feed_accepts(config, page):
            continue
        total, reference = _add(total, reference, page["embedding"], row)
        added += 1
    return total, reference, added, missing


def _add(total, reference: datetime | None, embedding, row) -> tuple[np.ndarray, datetime]:
    """Add one interaction's term, keeping the sum referenced to the latest time."""
    vector = np.asarray(embedding, dtype=np.float64)
    when = row["created_at"]
    if total is None or reference is None:
        return row["weight"] * vector, when
    if when >= reference:
        return total * decay((when - reference).total_seconds()) + row["weight"] * vector, when
    return total + row["weight"] * decay((reference - when).total_seconds()) * vector, reference


def profile_vector(config: FeedConfig, rows: Iterable[dict]) -> np.ndarray | None:
    """The profile vector ``update_profile`` would store for these interactions, unsaved.

    ``rows``: dicts with ``weight``, ``created_at``, ``embedding``,
    ``content_type_id`` and ``path``. For replaying history (the offline
    evaluation), where the profile as of a past moment is needed but must not
    be written.
    """
    total, reference = None, None
    for row in rows:
        if feed_accepts(config, row):
            total, reference = _add(total, reference, row["embedding"], row)
    return normalise(total) if has_direction(total) else None


def recompute_profile(reader_id: int, config: FeedConfig) -> ReaderProfile:
    """Rebuild a profile from the reader's whole history (the sweep's path)."""
    with transaction.atomic():
        _lock_reader(reader_id)
        profile, _ = ReaderProfile.objects.select_for_update().get_or_create(
            reader_id=reader_id, feed=config.slug
        )
        rows = list(
            Interaction.objects.filter(reader_id=reader_id)
            .order_by("id")
            .values("id", "page_id", "weight", "created_at")
        )
        total, reference, count, stale = _fold(config, rows, None, None)
        profile.interaction_count = count
        profile.last_interaction_id = rows[-1]["id"] if rows else 0
        _store(profile, total, reference, stale=stale)
    return profile


def recompute_profiles(reader_id: int) -> None:
    for config in profile_feeds():
        recompute_profile(reader_id, config)


def _lock_reader(reader_id: int) -> bool:
    """Lock the reader's row for this transaction; False if the reader is gone."""
    return bool(list(Reader.objects.select_for_update().filter(pk=reader_id).values_list("pk")))


def _embeddings(page_ids: Iterable[int]) -> dict[int, dict]:
    return {
        row["page_id"]: row
        for row in PageEmbedding.objects.filter(
            page_id__in=set(page_ids), status=EmbeddingStatus.READY, embedding__isnull=False
        ).values("page_id", "embedding", "content_type_id", "path")
    }


def _as_array(value) -> np.ndarray | None:
    return None if value is None else np.asarray(value, dtype=np.float64)


def _store(profile: ReaderProfile, total, reference, *, stale: bool) -> None:
    if total is None:
        profile.sum_vector = profile.vector = None
    else:
        profile.sum_vector = total.astype(np.float32)
        profile.vector = normalise(total) if has_direction(total) else None
    profile.reference_time = reference
    profile.stale = stale
    profile.save()
    bump_reader_version(profile.reader_id)  # cached lists of this reader are stale now


# --- feeds fed by a site's own "likes" (see sources.py) ---------------------------


def recompute_source_profile(user_id: int, feed_slug: str) -> ReaderProfile:
    """The user's profile for a feed fed by the site's own model: the mean liked page."""
    config = get_feed_config(feed_slug)
    page_ids = liked_page_ids(config, user_id)
    rows = list(_embeddings(page_ids).values())
    vectors = [np.asarray(row["embedding"], dtype=np.float64) for row in rows]
    vectors = [v for v, row in zip(vectors, rows, strict=True) if feed_accepts(config, row)]
    reader, _ = Reader.objects.get_or_create(user_id=user_id)
    total = np.sum(vectors, axis=0) if vectors else None
    profile, _ = ReaderProfile.objects.update_or_create(
        reader=reader,
        feed=config.slug,
        defaults={
            "sum_vector": total.astype(np.float32) if total is not None else None,
            "vector": normalise(total) if has_direction(total) else None,
            "interaction_count": len(vectors),
            "stale": len(rows) < len(set(page_ids)),  # some embeddings not ready yet
        },
    )
    bump_reader_version(reader.pk)  # cached lists of this reader are stale now
    return profile


def recompute_source_profiles(reader_id: int) -> None:
    """Recompute a signed-in reader's profiles for every source-fed feed (the sweep)."""
    user_id = Reader.objects.filter(pk=reader_id).values_list("user_id", flat=True).first()
    if user_id is None:
        return
    for config in source_feeds():
        recompute_source_profile(user_id, config.slug)
