"""WSGI entry point for the ingest benchmark: Django plus a Celery app on the benchmark broker."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.ingest_settings")

from celery import Celery
from django.conf import settings
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
celery_app = Celery("ingest", broker=settings.INGEST_BROKER)
celery_app.set_current()
celery_app.set_default()
