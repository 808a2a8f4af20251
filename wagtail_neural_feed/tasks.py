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
