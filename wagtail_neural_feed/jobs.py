"""The background jobs, by name: plain functions taking ids only.

The dispatch layer runs them through Celery, a thread or inline; ``tasks.py``
wraps the same functions as Celery tasks, so both paths run the same code.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

#: job name -> dotted path of the function that does the work.
JOBS: dict[str, str] = {
    "embed_pages": "wagtail_neural_feed.coalesce.embed_published",
    "embed_pending": "wagtail_neural_feed.indexing.embed_pending",
    "update_profiles": "wagtail_neural_feed.profiles.run_profile_update",
    "recompute_profiles": "wagtail_neural_feed.profiles.recompute_profiles",
    "recompute_source_profile": "wagtail_neural_feed.profiles.recompute_source_profile",
    "sweep": "wagtail_neural_feed.sweep.sweep",
    "refresh_popularity": "wagtail_neural_feed.popularity.refresh_popularity",
    "autotune": "wagtail_neural_feed.autotune.run_autotune",
}

#: Jobs taking one list of ids, where one run over the union of several
#: queued copies' ids does the work of all of them: the dispatch layer merges
#: copies queued in one process that have not started yet.
MERGEABLE_JOBS = frozenset({"embed_pages"})


def job_function(name: str):
    try:
        return import_string(JOBS[name])
    except KeyError:
        raise LookupError(f"Unknown neural feed job {name!r}.") from None


def celery_task_name(name: str) -> str:
    return f"wagtail_neural_feed.{name}"
