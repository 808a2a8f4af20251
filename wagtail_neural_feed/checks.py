"""System checks. Ids are stable: wagtail_neural_feed.E001 ... (never reused)."""

from __future__ import annotations

import difflib

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections

from .autotune import autotune_problems
from .broker import celery_app
from .conf import DEFAULTS, SETTINGS_NAME, neural_feed_settings
from .dispatch import BACKENDS, celery_configured
from .encoders import build_encoder, get_encoder
from .exceptions import NeuralFeedConfigurationError, NeuralFeedError
from .feeds import code_feeds
from .jobs import celery_task_name
from .pagetypes import is_recommendable
from .schema import column_dimensions

MIN_PGVECTOR = (0, 8)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


@register(Tags.database)
def check_database(app_configs=None, databases=None, **kwargs):
    """E001: PostgreSQL is required. E002: pgvector >= 0.8 must be installable."""
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            errors.append(
                Error(
                    f"Database {alias!r} is {connection.vendor}; wagtail-neural-feed needs "
                    "PostgreSQL with the pgvector extension.",
                    hint="Point DATABASES (or DATABASE_URL) at PostgreSQL >= 13 with pgvector.",
                    id="wagtail_neural_feed.E001",
                )
            )
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce("
                "(SELECT extversion FROM pg_extension WHERE extname = 'vector'),"
                "(SELECT default_version FROM pg_available_extensions WHERE name = 'vector'))"
            )
            version = cursor.fetchone()[0]
        if version is None or _version_tuple(version) < MIN_PGVECTOR:
            errors.append(
                Error(
                    f"Database {alias!r} has pgvector {version or 'not installed'}; "
                    "wagtail-neural-feed needs pgvector >= 0.8 (iterative index scans).",
                    hint="Install pgvector 0.8 or newer on the PostgreSQL server.",
                    id="wagtail_neural_feed.E002",
                )
            )
    return errors


@register()
def check_encoder(app_configs=None, **kwargs):
    """E003: the configured encoder must import and construct."""
    try:
        build_encoder()
    except Exception as exc:
        return [
            Error(
                f"The neural feed encoder cannot be built: {exc}",
                hint="Fix WAGTAIL_NEURAL_FEED['ENCODER'] / ['ENCODER_OPTIONS'], or install "
                "'wagtail-neural-feed[local]' for the default encoder.",
                id="wagtail_neural_feed.E003",
            )
        ]
    return []


@register(Tags.database)
def check_dimensions(app_configs=None, databases=None, **kwargs):
    """E004: the encoder's dimension must equal the vector column's."""
    if not databases or "default" not in databases:
        return []
    try:
        dimension = get_encoder().dimension
        column = column_dimensions("default")
    except Exception:
        return []  # E003 (encoder) or a missing table (not migrated yet) is reported elsewhere
    if column is not None and column != dimension:
        return [
            Error(
                f"The encoder makes {dimension}-dimensional vectors but the embedding column "
                f"holds {column}.",
                hint=f"Set WAGTAIL_NEURAL_FEED['DIMENSIONS'] = {dimension} and run "
                "'manage.py neural_feed_embed --rebuild'.",
                id="wagtail_neural_feed.E004",
            )
        ]
    return []


@register()
def check_dispatch(app_configs=None, **kwargs):
    """E005: DISPATCH must be known. W001: "celery" forced but Celery has no broker."""
    value = neural_feed_settings.DISPATCH
    if value not in BACKENDS:
        return [
            Error(
                f"WAGTAIL_NEURAL_FEED['DISPATCH'] is {value!r}.",
                hint=f"Use one of: {', '.join(BACKENDS)}.",
                id="wagtail_neural_feed.E005",
            )
        ]
    if value == "celery" and not celery_configured():
        return [
            Warning(
                "WAGTAIL_NEURAL_FEED['DISPATCH'] is 'celery' but no Celery broker is configured; "
                "jobs will run in a background thread.",
                hint="Set CELERY_BROKER_URL and load it in your Celery app, or use 'auto'.",
                id="wagtail_neural_feed.W001",
            )
        ]
    return []


@register()
def check_feeds(app_configs=None, **kwargs):
    """E006: every registered feed resolves (valid values, known page types and parent)."""
    try:
        feeds = code_feeds()
    except NeuralFeedError as exc:
        return [Error(str(exc), id="wagtail_neural_feed.E006")]
    errors = []
    for slug, config in feeds.items():
        problem = None
        if config.parent and config.parent not in feeds:
            problem = f"its parent feed {config.parent!r} is not registered"
        for label in config.page_types:
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError):
                problem = f"page type {label!r} does not exist"
                break
            if not any(is_recommendable(m) and issubclass(m, model) for m in apps.get_models()):
                problem = f"page type {label!r} has no recommendable (sub)class"
                break
        if problem:
            errors.append(
                Error(
                    f"Feed {slug!r}: {problem}.",
                    hint="Page types are 'app_label.ModelName' of models using "
                    "RecommendablePageMixin.",
                    id="wagtail_neural_feed.E006",
                )
            )
    return errors


#: Freshness at the hot tier's edge above which lists often need the fallback.
HOT_EDGE_FRESHNESS = 0.05


#: Ranking settings that must be whole numbers, with their least valid value.
RANKING_COUNTS = {
    "HNSW_EF_SEARCH": 1,
    "HNSW_MAX_SCAN_TUPLES": 1,
    "CANDIDATE_WINDOW": 1,
    "EXACT_BELOW_PAGES": 0,
}
#: Ranking settings that must be positive numbers.
RANKING_POSITIVE = ("HOT_FRESH_DAYS", "POPULARITY_HALF_LIFE_DAYS")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@register()
def check_ranking_settings(app_configs=None, **kwargs):
    """E007: the ranking's numeric settings have usable values (caught at start-up,
    not as an error on the first list a reader asks for)."""
    errors = []
    for name, least in RANKING_COUNTS.items():
        value = getattr(neural_feed_settings, name)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= least):
            errors.append(
                Error(
                    f"WAGTAIL_NEURAL_FEED['{name}'] is {value!r}.",
                    hint=f"Use a whole number of at least {least}.",
                    id="wagtail_neural_feed.E007",
                )
            )
    for name in RANKING_POSITIVE:
        value = getattr(neural_feed_settings, name)
        if not (_is_number(value) and value > 0):
            errors.append(
                Error(
                    f"WAGTAIL_NEURAL_FEED['{name}'] is {value!r}.",
                    hint="Use a number greater than 0.",
                    id="wagtail_neural_feed.E007",
                )
            )
    popularity = neural_feed_settings.HOT_POPULARITY
    if not (_is_number(popularity) and 0 <= popularity <= 1):
        errors.append(
            Error(
                f"WAGTAIL_NEURAL_FEED['HOT_POPULARITY'] is {popularity!r}.",
                hint="Use a share from 0 to 1.",
                id="wagtail_neural_feed.E007",
            )
        )
    return errors


@register()
def check_hot_tier(app_configs=None, **kwargs):
    """W002: the hot tier covers each feed's fresh pages (else lists use the slow fallback)."""
    if not neural_feed_settings.HOT_TIER:
        return []
    try:
        feeds = code_feeds()
    except NeuralFeedError:
        return []  # reported by E006
    days = neural_feed_settings.HOT_FRESH_DAYS
    if not (_is_number(days) and days > 0):
        return []  # reported by E007
    warnings = []
    for slug, config in feeds.items():
        if config.freshness_weight <= 0:
            continue
        edge = 2 ** (-days / config.freshness_half_life_days)
        if edge > HOT_EDGE_FRESHNESS:
            warnings.append(
                Warning(
                    f"Feed {slug!r}: a page {days:g} days old (the hot tier's edge) still has "
                    f"freshness {edge:.2f} with its {config.freshness_half_life_days:g}-day "
                    "half-life, so its lists will often need the slower fallback scans.",
                    hint="Set WAGTAIL_NEURAL_FEED['HOT_FRESH_DAYS'] to at least "
                    f"{5 * config.freshness_half_life_days:g} (five half-lives).",
                    id="wagtail_neural_feed.W002",
                )
            )
    return warnings


@register()
def check_setting_names(app_configs=None, **kwargs):
    """W003: a key of WAGTAIL_NEURAL_FEED that is not a setting (a typo is otherwise ignored)."""
    configured = getattr(settings, SETTINGS_NAME, None) or {}
    warnings = []
    for key in sorted(set(configured) - set(DEFAULTS)):
        close = difflib.get_close_matches(key, DEFAULTS, n=1)
        hint = f"Did you mean {close[0]!r}?" if close else "See the README's Settings section."
        warnings.append(
            Warning(
                f"WAGTAIL_NEURAL_FEED[{key!r}] is not a setting; it is ignored.",
                hint=hint,
                id="wagtail_neural_feed.W003",
            )
        )
    return warnings


@register()
def check_autotune(app_configs=None, **kwargs):
    """E010: AUTOTUNE (self-tuning) is a dict of known options with valid values."""
    return [
        Error(problem, hint="See docs/evaluation.md, Self-tuning.", id="wagtail_neural_feed.E010")
        for problem in autotune_problems()
    ]


PRIVATE_LISTS_MIDDLEWARE = "wagtail_neural_feed.middleware.PrivateListsMiddleware"


@register()
def check_private_lists_middleware(app_configs=None, **kwargs):
    """W004: without PrivateListsMiddleware a shared cache may serve one reader's list to
    another (pages that render lists get no ``Vary: Cookie`` / ``Cache-Control: private``)."""
    if PRIVATE_LISTS_MIDDLEWARE in getattr(settings, "MIDDLEWARE", ()):
        return []
    return [
        Warning(
            "PrivateListsMiddleware is not in MIDDLEWARE: pages that render a recommendation "
            "list are not marked private, so a shared cache could serve one reader's list "
            "to another.",
            hint=f"Add {PRIVATE_LISTS_MIDDLEWARE!r} to MIDDLEWARE, or silence "
            "wagtail_neural_feed.W004 if you only use the JSON API or client-side lists.",
            id="wagtail_neural_feed.W004",
        )
    ]


@register()
def check_sweep_schedule(app_configs=None, **kwargs):
    """E009: CELERY_APP must name a Celery app. W005: with Celery, a beat schedule must run
    the sweep: it is what repairs jobs a dead worker or a lost message left undone."""
    if neural_feed_settings.DISPATCH not in ("auto", "celery"):
        return []
    try:
        app = celery_app()
    except (NeuralFeedConfigurationError, ImportError) as exc:
        return [Error(str(exc), id="wagtail_neural_feed.E009")]
    if app is None:
        return []
    sweep_task = celery_task_name("sweep")
    schedule = app.conf.beat_schedule or {}
    if any(entry.get("task") == sweep_task for entry in schedule.values()):
        return []
    return [
        Warning(
            f"No Celery beat schedule entry runs {sweep_task!r}; a worker killed mid-job or a "
            "lost message leaves pages unembedded and profiles stale until something sweeps.",
            hint="app.conf.beat_schedule.update(wagtail_neural_feed.tasks.BEAT_SCHEDULE), or run "
            "'manage.py neural_feed_sweep' from cron every few minutes and silence this check.",
            id="wagtail_neural_feed.W005",
        )
    ]
