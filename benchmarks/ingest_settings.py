"""Settings for the ingest benchmark: its own database, no rate limits, hashing encoder,
profile updates queued to Redis (their workers would run on other machines)."""

import os

from benchmarks.settings import *  # noqa: F403
from benchmarks.settings import BENCH_SERVER_SETTINGS
from tests.settings import BASE_DIR
from wagtail_neural_feed.database import database_config

DATABASES = {
    "default": {
        **database_config(
            data_dir=BASE_DIR / ".pgbench",
            name=os.environ.get("NEURAL_FEED_INGEST_DB", "nf_ingest"),
            server_settings=BENCH_SERVER_SETTINGS,
        ),
        "CONN_MAX_AGE": 600,
    }
}
WAGTAIL_NEURAL_FEED = {
    "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
    "DIMENSIONS": 384,
    "DISPATCH": "celery",
    "RATE_LIMIT_PER_MINUTE": 10**9,
    "RATE_LIMIT_PER_IP_PER_MINUTE": 10**9,
}
INGEST_BROKER = os.environ.get("NEURAL_FEED_INGEST_BROKER", "redis://127.0.0.1:6379/14")
