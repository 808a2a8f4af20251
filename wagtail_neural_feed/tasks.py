"""Celery tasks: thin wrappers around the job functions, ids in, nothing out.

Include this app in Celery's ``autodiscover_tasks()``. Every task is
idempotent and acknowledged late, so a worker killed mid-task has it redelivered.
"""

from __future__ import annotations

from celery import shared_task

from .jobs import celery_task_name, job_function

TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (Exception,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 5,
}


@shared_task(name=celery_task_name("embed_pages"), **TASK_OPTIONS)
def embed_pages(page_ids: list[int]) -> int:
    return job_function("embed_pages")(page_ids)


@shared_task(name=celery_task_name("embed_pending"), **TASK_OPTIONS)
def embed_pending() -> int:
    return job_function("embed_pending")()


@shared_task(name=celery_task_name("update_profiles"), **TASK_OPTIONS)
def update_profiles(reader_id: int) -> int:
    return job_function("update_profiles")(reader_id)


@shared_task(name=celery_task_name("recompute_profiles"), **TASK_OPTIONS)
def recompute_profiles(reader_id: int) -> None:
    return job_function("recompute_profiles")(reader_id)


@shared_task(name=celery_task_name("recompute_source_profile"), **TASK_OPTIONS)
def recompute_source_profile(user_id: int, feed_slug: str) -> None:
    job_function("recompute_source_profile")(user_id, feed_slug)


@shared_task(name=celery_task_name("sweep"), **TASK_OPTIONS)
def sweep() -> dict:
    return job_function("sweep")()


@shared_task(name=celery_task_name("refresh_popularity"), **TASK_OPTIONS)
def refresh_popularity() -> int:
    return job_function("refresh_popularity")()


@shared_task(name=celery_task_name("autotune"), acks_late=True, reject_on_worker_lost=True)
def autotune() -> list[dict]:
    """Self-tuning (off unless ``AUTOTUNE["ENABLED"]``): for beat, e.g. once a night.

    Not retried on failure: a run takes minutes and the next scheduled one
    starts from scratch; a run already under way elsewhere makes this one a no-op.
    """
    return job_function("autotune")()


#: Add to ``app.conf.beat_schedule`` (``app.conf.beat_schedule.update(BEAT_SCHEDULE)``).
BEAT_SCHEDULE = {
    "wagtail-neural-feed-sweep": {
        "task": celery_task_name("sweep"),
        "schedule": 300.0,
    },
}

#: Self-tuning once a day; add it too when ``AUTOTUNE["ENABLED"]`` is on
#: (``app.conf.beat_schedule.update(AUTOTUNE_BEAT_SCHEDULE)``; a crontab works as well).
AUTOTUNE_BEAT_SCHEDULE = {
    "wagtail-neural-feed-autotune": {
        "task": celery_task_name("autotune"),
        "schedule": 86400.0,
    },
}
