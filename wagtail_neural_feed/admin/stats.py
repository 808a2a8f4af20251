"""What the dashboard shows: coverage, background health, activity and click-through.

Plain functions returning plain data, so the dashboard view, the admin home
page panel and the tests read the same numbers.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from .. import dispatch
from ..compat import get_page_model
from ..feeds import registered_feeds
from ..impressions import click_through
from ..models import EmbeddingStatus, Interaction, PageEmbedding, Reader, ReaderProfile
from ..pagetypes import recommendable_content_type_ids
from ..status import last_sweep

FAILED_SHOWN = 50


@dataclass
class TypeCoverage:
    label: str
    live: int = 0
    ready: int = 0
    pending: int = 0
    failed: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.ready / self.live if self.live else 100.0


@dataclass
class Coverage:
    by_type: list[TypeCoverage] = field(default_factory=list)
    failed_pages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def live(self) -> int:
        return sum(row.live for row in self.by_type)

    @property
    def ready(self) -> int:
        return sum(row.ready for row in self.by_type)

    @property
    def failed(self) -> int:
        return sum(row.failed for row in self.by_type)


def coverage() -> Coverage:
    """Live recommendable pages per type and how many are embedded, pending or failed.

    A live page without an embedding row (never queued) counts as pending.
    """
    type_ids = recommendable_content_type_ids()
    live = dict(
        get_page_model()
        .objects.filter(live=True, content_type_id__in=type_ids)
        .values_list("content_type_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    statuses: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        PageEmbedding.objects.filter(live=True, content_type_id__in=type_ids)
        .values_list("content_type_id", "status")
        .annotate(n=Count("page_id"))
        .order_by()
    )
    for type_id, status, count in rows:
        statuses[type_id][status] = count
    result = Coverage()
    for type_id in sorted(set(live) | set(statuses)):
        model = ContentType.objects.get_for_id(type_id).model_class()
        label = str(model._meta.verbose_name).capitalize() if model else f"#{type_id}"
        counts = statuses.get(type_id, {})
        row = TypeCoverage(
            label=label,
            live=live.get(type_id, 0),
            ready=counts.get(EmbeddingStatus.READY, 0),
            failed=counts.get(EmbeddingStatus.FAILED, 0),
        )
        row.pending = max(row.live - row.ready - row.failed, 0)
        result.by_type.append(row)
    result.failed_pages = list(
        PageEmbedding.objects.filter(live=True, status=EmbeddingStatus.FAILED)
        .order_by("-updated_at")
        .values("page_id", "page__title", "error", "attempts", "updated_at")[:FAILED_SHOWN]
    )
    return result


def retry_failed(page_ids: list[int] | None = None) -> list[int]:
    """Queue failed embeddings again (all, or those in ``page_ids``) with fresh attempts.

    Returns the page ids queued; the job runs once the current transaction commits.
    """
    rows = PageEmbedding.objects.filter(live=True, status=EmbeddingStatus.FAILED)
    if page_ids is not None:
        rows = rows.filter(page_id__in=page_ids)
    ids = list(rows.values_list("page_id", flat=True))
    if ids:
        PageEmbedding.objects.filter(page_id__in=ids).update(
            status=EmbeddingStatus.PENDING, attempts=0, error=""
        )
        dispatch.enqueue("embed_pages", ids)
    return ids


def background_health() -> dict[str, Any]:
    """Jobs waiting, the dispatch backend and whether it is falling back."""
    try:
        backend = dispatch.backend_name()
    except Exception as exc:  # a bad DISPATCH setting: show it rather than break the page
        backend = f"misconfigured ({exc})"
    fallback_until = getattr(dispatch, "_broker_down_until", 0.0)
    return {
        "backend": backend,
        "broker_fallback": backend == "celery" and fallback_until > time.monotonic(),
        "pending_readers": Reader.objects.filter(profile_pending=True).count(),
        "stale_profiles": ReaderProfile.objects.filter(stale=True).count(),
        "last_sweep": last_sweep(),
    }


def activity(days: int = 30, *, today: date | None = None) -> dict[str, Any]:
    """Readers, profiles and interactions per day by kind over the last ``days`` days."""
    today = today or timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = (
        Interaction.objects.filter(
            created_at__gte=timezone.make_aware(datetime.combine(start, datetime.min.time()))
        )
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_kind: dict[str, dict[date, int]] = defaultdict(dict)
    for day, kind, count in rows:
        per_kind[kind][day] = count
    day_list = [start + timedelta(days=offset) for offset in range(days)]
    return {
        "readers": Reader.objects.count(),
        "profiles": ReaderProfile.objects.count(),
        "days": day_list,
        "series": {
            kind: [counts.get(day, 0) for day in day_list]
            for kind, counts in sorted(per_kind.items())
        },
    }


def click_through_stats(days: int = 14, *, top: int = 5) -> list[dict[str, Any]]:
    """Per feed over the last ``days`` days: lists shown, lists with a click, click-through
    per day, and its most recommended pages with their click-through.

    From the impressions and clicks rendered lists report (:mod:`..impressions`);
    empty until blocks or tags have shown a list. One aggregate for every feed,
    then one per feed that was shown, for its pages.
    """
    since = timezone.now() - timedelta(days=days)
    per_feed: dict[str, list] = defaultdict(list)
    for row in click_through(since=since).by_feed_day:
        per_feed[row.feed].append(row)
    feeds = registered_feeds()
    result = []
    for slug, rows in sorted(per_feed.items()):
        lists = sum(row.impressions for row in rows)
        clicked = sum(row.clicked_lists for row in rows)
        by_page = click_through(feed=slug, since=since).by_page[:top]
        titles = dict(
            get_page_model()
            .objects.filter(pk__in=[p.page_id for p in by_page])
            .values_list("pk", "title")
        )
        config = feeds.get(slug)
        result.append(
            {
                "feed": slug,
                "title": (config.title if config else "") or slug,
                "lists": lists,
                "clicked_lists": clicked,
                "clicks": sum(row.clicks for row in rows),
                "ctr": 100.0 * clicked / lists if lists else 0.0,
                "per_day": [(row.day, row.impressions, 100.0 * row.ctr) for row in rows],
                "top_pages": [
                    {
                        "page_id": page.page_id,
                        "title": titles.get(page.page_id, f"#{page.page_id}"),
                        "shown": page.impressions,
                        "clicks": page.clicks,
                        "ctr": 100.0 * page.ctr,
                    }
                    for page in by_page
                ],
            }
        )
    return result


def ctr_chart_series(stats: list[dict[str, Any]], days: list[date]) -> dict[str, list[float]]:
    """Click-through (%) per day for each feed, for the dashboard's chart."""
    series = {}
    for row in stats:
        by_day = {day: ctr for day, _, ctr in row["per_day"]}
        series[row["title"]] = [round(by_day.get(day, 0.0), 1) for day in days]
    return series


def home_summary() -> dict[str, Any]:
    """The one line on the Wagtail admin home page."""
    cover = coverage_totals()
    stats = click_through_stats(days=7)
    lists = sum(row["lists"] for row in stats)
    clicked = sum(row["clicked_lists"] for row in stats)
    return {**cover, "ctr": (100.0 * clicked / lists) if lists else None}


def coverage_totals() -> dict[str, int]:
    """Live recommendable pages, how many are embedded and how many failed."""
    type_ids = recommendable_content_type_ids()
    live = get_page_model().objects.filter(live=True, content_type_id__in=type_ids).count()
    ready = PageEmbedding.objects.filter(
        live=True, content_type_id__in=type_ids, status=EmbeddingStatus.READY
    ).count()
    failed = PageEmbedding.objects.filter(
        live=True, content_type_id__in=type_ids, status=EmbeddingStatus.FAILED
    ).count()
    return {"live": live, "ready": ready, "failed": failed}
