"""Settings for the 1M-page benchmark: a server of its own, sized for a million vectors.

At 1M pages the embedding table (~2 GB) and its HNSW index (~2 GB) no longer
fit in the 2 GB of shared buffers the other benchmarks use; pgvector asks for
the index to stay in memory. The bulk loader raises ``maintenance_work_mem``
for its one index build itself (``wagtail_neural_feed.bulk``).
"""

import os

from benchmarks.settings import *  # noqa: F403
from tests.settings import BASE_DIR
from wagtail_neural_feed.database import database_config

MILLION_SERVER_SETTINGS = {
    "shared_buffers": "5GB",
    "effective_cache_size": "12GB",
    # A bulk load writes ~4 GB of WAL: no checkpoint every 1 GB meanwhile.
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    # 2 cores: the leader and one worker build the HNSW index.
    "max_parallel_maintenance_workers": "1",
}
DATABASES = {
    "default": database_config(
        data_dir=BASE_DIR / ".pgbench-1m",
        name=os.environ.get("NEURAL_FEED_BENCH_DB", "nf_million"),
        server_settings=MILLION_SERVER_SETTINGS,
    )
}
