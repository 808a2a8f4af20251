"""Settings for the test suite: real PostgreSQL + pgvector (embedded unless DATABASE_URL is set)."""

import os
from pathlib import Path

from wagtail_neural_feed.database import database_config
from wagtail_neural_feed.standby import Standby

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES = [("en", "English"), ("fr", "French")]
WAGTAIL_SITE_NAME = "Neural feed tests"
WAGTAILADMIN_BASE_URL = "http://testserver"

DATABASES = {
    # NEURAL_FEED_TEST_DB lets parallel runs share one embedded server.
    "default": database_config(
        data_dir=BASE_DIR / ".pgdata", name=os.environ.get("NEURAL_FEED_TEST_DB", "neural_feed")
    )
}

# A streaming standby of the test server, started by tests/test_replica.py (a
# session fixture); the test runner points it at the test database (MIRROR),
# which reaches it by replication. Nothing connects to it unless a test asks.
NEURAL_FEED_REPLICA_DIR = BASE_DIR / (
    ".pgreplica-" + os.environ.get("NEURAL_FEED_TEST_DB", "neural_feed")
)
DATABASES["replica"] = Standby(DATABASES["default"], NEURAL_FEED_REPLICA_DIR).database_config(
    mirror="default"
)

INSTALLED_APPS = [
    "tests.testapp",
    "wagtail_neural_feed",
    "wagtail.contrib.settings",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail.api.v2",
    "wagtail",
    "rest_framework",
    "modelcluster",
    "taggit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    "wagtail_neural_feed.middleware.PrivateListsMiddleware",
]

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tests" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
MEDIA_ROOT = BASE_DIR / ".media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# Tests use the deterministic hashing encoder and inline jobs; tests about
# meaning switch to the real model, tests about Celery to the real broker.
WAGTAIL_NEURAL_FEED = {
    "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
    "DIMENSIONS": 384,
    "DISPATCH": "inline",
    # The small-site exact scan is chosen from PostgreSQL's row estimate, which
    # autovacuum may change mid-run: tests pick a path explicitly (the
    # `ranking_path` fixture runs a test through both).
    "EXACT_BELOW_PAGES": 0,
    # Rendered lists are not cached unless a test turns the cache on.
    "LIST_CACHE_SECONDS": 0,
    # Most tests record a first visit at once; tests/test_scripted_traffic.py
    # tests visitor probation.
    "VISITOR_PROBATION_SECONDS": 0,
}

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wagtail_neural_feed": {"handlers": ["console"], "level": "WARNING"}},
}
