"""Settings for the JSON API benchmark: the ranking benchmark's world database (reused when
already built), persistent connections, no rate limit.

``NEURAL_FEED_BENCH_LIST_CACHE`` sets ``LIST_CACHE_SECONDS`` (``benchmarks.api
--list-cache 0`` ranks every list; the default, 60 s, serves a reader's
repeated lists from the per-process cache).
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
