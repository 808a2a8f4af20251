"""Settings for ``python -m benchmarks.replica``: a primary of its own plus a streaming standby.

The primary lives in ``.pgbench-replica`` (not ``.pgbench``, so the standby's
``pg_basebackup`` copies only this benchmark's world); the standby in
``.pgbench-standby``, started by the benchmark.
"""

import os

from benchmarks.settings import *  # noqa: F403
from benchmarks.settings import INSTALLED_APPS
from tests.settings import BASE_DIR
from wagtail_neural_feed.database import database_config
from wagtail_neural_feed.standby import Standby

#: Both servers run on this machine: half of the other benchmarks' buffers each.
REPLICA_BENCH_SERVER_SETTINGS = {"shared_buffers": "1GB", "effective_cache_size": "4GB"}
NEURAL_FEED_REPLICA_DIR = BASE_DIR / ".pgbench-standby"
DATABASES = {
    "default": database_config(
        data_dir=BASE_DIR / ".pgbench-replica",
        name=os.environ.get("NEURAL_FEED_BENCH_DB", "nf_replica"),
        server_settings=REPLICA_BENCH_SERVER_SETTINGS,
    )
}
DATABASES["replica"] = Standby(DATABASES["default"], NEURAL_FEED_REPLICA_DIR).database_config(
    mirror=None
)
INSTALLED_APPS = list(INSTALLED_APPS)
WAGTAIL_NEURAL_FEED = {
    # Nothing is encoded here (the world's vectors are made up): no model to load.
    "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
    "DIMENSIONS": 384,
    "DISPATCH": "inline",
    "LIST_CACHE_SECONDS": 0,
    "VISITOR_PROBATION_SECONDS": 0,
}
