"""Settings for the JSON API benchmark: the ranking benchmark's world database (reused when
already built), persistent connections, no rate limit.

``NEURAL_FEED_BENCH_LIST_CACHE`` sets ``LIST_CACHE_SECONDS`` (``benchmarks.api
--list-cache 0`` ranks every list; the default, 60 s, serves a reader's
repeated lists from the cache).

``NEURAL_FEED_BENCH_CACHE`` picks Django's cache: ``redis`` (the default, as
docs/scaling.md asks of a site with more than one process: one list cache and
one feed version stamp for every worker; ``REDIS_URL``) or ``locmem`` (one per
worker). ``NEURAL_FEED_BENCH_CACHE_PREFIX`` keeps each run's (and each A/B
server's) keys apart, so every run starts with a cold list cache.
"""

import os

from benchmarks.settings import *  # noqa: F403
from benchmarks.settings import DATABASES

DATABASES = {"default": {**DATABASES["default"], "CONN_MAX_AGE": 600}}
WAGTAIL_NEURAL_FEED = {
    **WAGTAIL_NEURAL_FEED,  # noqa: F405
    "API_RATE_LIMIT_PER_IP_PER_MINUTE": 0,
    "LIST_CACHE_SECONDS": int(os.environ.get("NEURAL_FEED_BENCH_LIST_CACHE", "60")),
}

if os.environ.get("NEURAL_FEED_BENCH_CACHE", "redis") == "redis":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "KEY_PREFIX": os.environ.get("NEURAL_FEED_BENCH_CACHE_PREFIX", "nf-bench"),
        }
    }
