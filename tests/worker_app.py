"""A Celery app for a worker in another process (tests/test_worker_killed.py).

DJANGO_SETTINGS_MODULE=tests.worker_settings celery -A tests.worker_app worker -P solo -Q <q>
"""

import django
from celery import Celery
from django.conf import settings

django.setup()

# The broker the tests use (tests.settings reads REDIS_URL, with a default: CI sets none).
app = Celery("neural_feed_worker_tests", broker=settings.REDIS_URL)
app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)
import wagtail_neural_feed.tasks  # noqa: E402, F401  (the shared tasks bind to this app)
