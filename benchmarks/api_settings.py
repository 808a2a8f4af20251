"""Settings for the JSON API benchmark: the ranking benchmark's world database (reused when
already built), persistent connections, no rate limit."""

from benchmarks.settings import *  # noqa: F403
from benchmarks.settings import DATABASES

DATABASES = {"default": {**DATABASES["default"], "CONN_MAX_AGE": 600}}
WAGTAIL_NEURAL_FEED = {
    **WAGTAIL_NEURAL_FEED,  # noqa: F405
    "API_RATE_LIMIT_PER_IP_PER_MINUTE": 0,
}
