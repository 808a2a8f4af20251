"""WSGI entry point for the JSON API benchmark."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.api_settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
