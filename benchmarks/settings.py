"""Settings for benchmarks: the test settings on a database of their own, real model."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import BASE_DIR
from wagtail_neural_feed.database import database_config

# A server of their own, tuned like a production one: the 100k-page world's
# embedding table and HNSW index (~200 MB each) fit in shared buffers, as
# pgvector's documentation asks; the embedded default of 128 MB does not.
BENCH_SERVER_SETTINGS = {"shared_buffers": "2GB", "effective_cache_size": "8GB"}
DATABASES = {
    "default": database_config(
        data_dir=BASE_DIR / ".pgbench",
        name=os.environ.get("NEURAL_FEED_BENCH_DB", "nf_bench"),
        server_settings=BENCH_SERVER_SETTINGS,
    )
}
WAGTAIL_NEURAL_FEED = {
    "ENCODER": "wagtail_neural_feed.encoders.SentenceTransformerEncoder",
    "DIMENSIONS": 384,
    "DISPATCH": "inline",
}

# django-neural-feed 1.1.0 and a content model for it: the ranking benchmark
# measures its get_feed on the same data as ours.
INSTALLED_APPS = [*INSTALLED_APPS, "django_neural_feed", "benchmarks.dnf_app"]  # noqa: F405
DJANGO_NEURAL_FEED = {"VECTOR_DIMENSION": 384}
