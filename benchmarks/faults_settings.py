"""Settings for ``benchmarks.faults``: the test settings on a database of their own, Celery on."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import BASE_DIR
from wagtail_neural_feed.database import database_config

DATABASES = {
    "default": database_config(
        data_dir=BASE_DIR / ".pgdata", name=os.environ.get("NEURAL_FEED_FAULTS_DB", "nf_faults")
    )
}
WAGTAIL_NEURAL_FEED = {
    # The encoder is not what is measured: the fast deterministic one.
    "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
    "DIMENSIONS": 384,
    "DISPATCH": "auto",
    "RATE_LIMIT_PER_MINUTE": 100_000,
    "RATE_LIMIT_PER_IP_PER_MINUTE": 100_000,
    "VISITOR_PROBATION_SECONDS": 0,  # every beacon is stored at once: rows are counted
}
