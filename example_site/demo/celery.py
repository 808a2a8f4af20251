"""The example site's Celery app: the production path for embedding and profile updates.

Start a worker and the beat scheduler against Redis (from example_site/):

    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 celery -A demo worker --beat -l info

Without a broker the demo runs the same jobs in a background thread of the web process.
"""

import os

from celery import Celery

from wagtail_neural_feed.jobs import celery_task_name
from wagtail_neural_feed.tasks import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

app = Celery("demo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    # The sweep (pending embeddings and profiles, popularity counters) every five minutes.
    **BEAT_SCHEDULE,
    # "Popular now" follows readers closely: refresh its counters every minute.
    "demo-refresh-popularity": {"task": celery_task_name("refresh_popularity"), "schedule": 60.0},
}
