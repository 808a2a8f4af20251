"""The one place ``WAGTAIL_NEURAL_FEED`` settings are read.

Values are read lazily and the cache is dropped on ``setting_changed``, so
``override_settings`` works in tests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTINGS_NAME = "WAGTAIL_NEURAL_FEED"

DEFAULTS: dict[str, Any] = {
    # --- encoder ---------------------------------------------------------
    # Dotted path to a BaseEncoder subclass.
    "ENCODER": "wagtail_neural_feed.encoders.SentenceTransformerEncoder",
    # Keyword arguments for the encoder. For the default encoder:
    # model_name (None = the packaged all-MiniLM-L6-v2), device, batch_size.
    "ENCODER_OPTIONS": {},
    # Dimension of the PageEmbedding/ReaderProfile vector columns. Read when
    # models load (the column type needs it); must equal the encoder's.
    "DIMENSIONS": 384,
    # --- background work -------------------------------------------------
    # "auto": Celery when it is configured and its broker answers, else a
    # background thread. Or force one of "celery", "thread", "inline".
    "DISPATCH": "auto",
    # The project's Celery app: a dotted path ("mysite.celery.app") or the app
    # itself. None = the app current when Django loaded (celery.current_app
    # is per thread, so it is resolved once, not per call), else Celery's
    # default app if it has a broker.
    "CELERY_APP": None,
    # Celery queue for our tasks (None = the app's default queue).
    "CELERY_QUEUE": None,
    # Seconds any one broker socket operation (connect, read, write) may take
    # before the job falls back to the background thread.
    "BROKER_TIMEOUT": 0.5,
    # Seconds to remember that the broker was down before trying it again.
    "BROKER_RETRY_AFTER": 10.0,
    # Failed embeddings are retried by the sweep at most this many times.
    "MAX_EMBED_ATTEMPTS": 5,
    # Pages embedded per encoder batch by commands and tasks.
    "EMBED_BATCH_SIZE": 64,
    # PostgreSQL text search configuration that turns the embedded text into
    # the lexemes of "More like this"'s lexical signal (regconfig name).
    "TEXT_SEARCH_CONFIG": "english",
    # --- ranking -----------------------------------------------------------
    # Database alias for ranking reads (e.g. a replica); None = "default".
    "READ_DATABASE": None,
    # With READ_DATABASE a streaming replica: for this many seconds after a
    # reader's interaction or profile is written, that reader's lists are
    # ranked on the primary until the replica has replayed the write (read
    # your writes, see replicas.py). 0 = always the replica, however stale.
    "READ_YOUR_WRITES_SECONDS": 60,
    # Seconds lists stay on the primary after the replica's connection broke.
    "REPLICA_RETRY_AFTER": 10.0,
    "HNSW_EF_SEARCH": 40,
    "HNSW_MAX_SCAN_TUPLES": 20000,
    # Run the ranking statements as prepared statements (planned once per
    # connection). Turn off behind a pooler that cannot keep them (PgBouncer
    # in transaction mode before 1.21).
    "PREPARED_STATEMENTS": True,
    # A scope with fewer embedded pages than this (PostgreSQL's estimate: its
    # scope index's rows, else the embedding table's) scores every eligible
    # page in one scan: on
    # small sites that is cheaper than the index searches and their proof
    # (measured: 2x faster at 1-2k pages, slower from about 6k).
    # 0 turns it off.
    "EXACT_BELOW_PAGES": 2000,
    # Most rows each fresh / popular / recently embedded candidate scan reads.
    "CANDIDATE_WINDOW": 1000,
    # The hot tier (see docs/ranking.md): every page first published within
    # this many days, or whose popularity is above this share of the top
    # page's (log-scaled, 0..1), is kept in a small second HNSW index.
    "HOT_TIER": True,
    "HOT_FRESH_DAYS": 90.0,
    "HOT_POPULARITY": 0.05,
    # --- readers and tracking ---------------------------------------------
    "VISITOR_COOKIE_NAME": "nf_visitor",
    "VISITOR_COOKIE_AGE": 60 * 60 * 24 * 365,
    "RESPECT_DO_NOT_TRACK": True,
    # None = no consent needed; else the name of a cookie whose truthy value
    # ("1", "true", "yes") means the reader consented.
    "CONSENT_COOKIE_NAME": None,
    "RECORD_VIEWS_ON_SERVE": False,
    # A visitor's first interactions are held in the cache, and no Reader row
    # is made, until the visitor comes back with the cookie within this many
    # seconds (scripts that drop cookies never do). 0 = create the reader on
    # the first request. See visitors.py.
    "VISITOR_PROBATION_SECONDS": 24 * 60 * 60,
    # Extra interaction kinds a site registers: {"bookmark": 2.0, ...}.
    "INTERACTION_KINDS": {},
    "RETENTION_DAYS": 365,
    # Interactions accepted per reader, and per client IP, in any 60 seconds
    # (a sliding window on the default cache: share it between processes).
    "RATE_LIMIT_PER_MINUTE": 120,
    "RATE_LIMIT_PER_IP_PER_MINUTE": 1200,
    # How many reverse proxies in front of Django append the address they
    # received from to X-Forwarded-For; the client's IP for the per-IP limit
    # is then read from that header. 0 = use REMOTE_ADDR (the header is
    # ignored: anyone can send one).
    "TRUSTED_PROXY_COUNT": 0,
    "MAX_BODY_BYTES": 2048,
    # --- JSON API ---------------------------------------------------------------
    # Most pages one API request may ask for (limit=).
    "API_MAX_LIMIT": 50,
    # API requests accepted per client IP per minute (0 = no limit).
    "API_RATE_LIMIT_PER_IP_PER_MINUTE": 600,
    # Half-life of a reader's interest, in days (profile time decay).
    "PROFILE_HALF_LIFE_DAYS": 30.0,
    # Most one reader adds to one page's popularity per day (a like and a
    # long read fit; a script's thousand views count as this much).
    "POPULARITY_READER_CAP": 5.0,
    # A reader with more interactions than this in a day is not a person:
    # none of that day's interactions count towards popularity.
    "POPULARITY_MAX_READER_DAILY": 500,
    # Half-life of the stored popularity counters, in days.
    "POPULARITY_HALF_LIFE_DAYS": 7.0,
    # --- co-reads ("readers of this also read") -----------------------------
    # Most co-read pages kept per page (the strongest, decayed): the table
    # stays at most pages · this many rows.
    "CO_READ_MAX_PER_PAGE": 50,
    # Two pages count as read together when one reader read both within this
    # many days; a reader's pair counts once per such window.
    "CO_READ_WINDOW_DAYS": 3.0,
    # Half-life of the stored co-read counts, in days.
    "CO_READ_HALF_LIFE_DAYS": 14.0,
    # A reader's last this many pages anchor the co-read term of "for you" lists.
    "CO_READ_RECENT_PAGES": 5,
    # --- offline evaluation ------------------------------------------------
    # neural_feed_evaluate --tune refuses to recommend weights from fewer
    # held-out events than this (half validate, half test): below a few
    # hundred, a better NDCG@10 is mostly noise.
    "TUNE_MIN_EVENTS": 400,
    # Self-tuning (docs/evaluation.md): a scheduled job (the Celery task
    # "wagtail_neural_feed.autotune" or manage.py neural_feed_autotune) tunes
    # each admin feed on the last SINCE_DAYS of history and applies the best
    # setting only when its NDCG gain on the test split exceeds MARGIN. Feeds
    # declared in code are only reported on. Keys left out keep these values.
    "AUTOTUNE": {
        "ENABLED": False,
        # Slugs to tune; empty = every admin feed.
        "FEEDS": [],
        "MARGIN": 0.005,
        "SINCE_DAYS": 28,
        "SPLIT": "time",
        "TRIALS": 24,
        # Hold out at most the latest N events (bounds the job's run time).
        "MAX_EVENTS": 2000,
        "CONTEXT": "none",
        "SEED": 0,
    },
    # Dotted paths of Feed subclasses to register (besides @register_feed).
    "FEEDS": [],
    # --- rendered lists (blocks, template tags) ----------------------------
    # Seconds a rendered list is kept in Django's cache, per reader, feed,
    # context and limit; a reader's entries are dropped when their profile
    # changes. 0 turns the cache off.
    "LIST_CACHE_SECONDS": 60,
    # The Django cache alias those lists are kept in.
    "LIST_CACHE_ALIAS": "default",
    # Cache alias holding the admin feeds' version stamp: every list reads it
    # once to notice feeds saved in another process. Must be shared between
    # processes (Redis, Memcached, database) on a multi-process server.
    "FEED_VERSION_CACHE": "default",
}


#: Settings that are dicts of options: a user's dict is laid over the defaults.
MERGED_SETTINGS = frozenset({"AUTOTUNE"})


class NeuralFeedSettings:
    """Attribute access to ``WAGTAIL_NEURAL_FEED`` with defaults, read on first use."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Unknown {SETTINGS_NAME} setting: {name!r}")
        if name not in self._cache:
            user = getattr(settings, SETTINGS_NAME, {}) or {}
            value = user.get(name, DEFAULTS[name])
            if name in MERGED_SETTINGS and isinstance(value, dict):
                value = {**DEFAULTS[name], **value}
            self._cache[name] = value
        return self._cache[name]

    def reload(self) -> None:
        self._cache.clear()


neural_feed_settings = NeuralFeedSettings()

_reload_callbacks: list = []


def on_reload(callback):
    """Register ``callback`` to run whenever the settings change (e.g. to drop a cached encoder)."""
    _reload_callbacks.append(callback)
    return callback


@receiver(setting_changed)
def _reload_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTINGS_NAME:
        neural_feed_settings.reload()
        for callback in _reload_callbacks:
            callback()
