"""Settings for the evaluation benchmark: the test settings on a database of its own."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import BASE_DIR
from wagtail_neural_feed.database import database_config

DATABASES = {
    "default": database_config(
        data_dir=BASE_DIR / ".pgdata", name=os.environ.get("NEURAL_FEED_EVAL_DB", "nf_eval")
    )
}
WAGTAIL_NEURAL_FEED = {
    "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
    "DIMENSIONS": 384,
    "DISPATCH": "inline",
    "TUNE_MIN_EVENTS": 400,
}
