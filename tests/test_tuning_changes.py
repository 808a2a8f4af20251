"""Stored evaluations on the dashboard, --tune --apply on an admin feed, self-tuning and revert.

The histories are ``tests/news_world.py``'s pure-recency world (every reader
reads the newest page they have not read), where a higher freshness weight is
known to rank better: tuning must find it, and the changes are judged by what
the next list and the dashboard show.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client, TestCase, override_settings
from wagtail.models import ModelLogEntry, Site

from tests.factories import SectionPageFactory
from tests.helpers import wait_until
from tests.news_world import build_news_world
from tests.test_admin_views import DASHBOARD, editor
from tests.test_celery import celery_dispatch, make_app  # noqa: F401  (a fixture)
from wagtail_neural_feed import recommend
from wagtail_neural_feed.admin.tuning import REVERT_ACTION, TUNE_ACTION, save_feed_values
from wagtail_neural_feed.admin_feeds import VERSION_KEY
from wagtail_neural_feed.autotune import autotune_problems, run_autotune
from wagtail_neural_feed.checks import check_autotune
from wagtail_neural_feed.evaluation.records import tuned_values
from wagtail_neural_feed.feeds import get_feed_config
from wagtail_neural_feed.models import AdminFeed, EvaluationRun, Reader, TuningChange
from wagtail_neural_feed.tasks import AUTOTUNE_BEAT_SCHEDULE
from wagtail_neural_feed.tasks import autotune as autotune_task

TUNING = {
    "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
    "DISPATCH": "inline",
    "EXACT_BELOW_PAGES": 0,
    "TUNE_MIN_EVENTS": 10,
}
#: The world's history is in January 2026: "recent" must reach back that far.
AUTOTUNE = {"ENABLED": True, "FEEDS": ["news"], "SINCE_DAYS": 3650, "TRIALS": 12, "MARGIN": 0.0}


@pytest.fixture
def news_section(home):
    return SectionPageFactory(parent=home, title="News", slug="news")


@pytest.fixture
def site(home):
    return Site.objects.get(is_default_site=True)


@pytest.fixture
def news_feed(site, news_section):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return AdminFeed.objects.create(site=site, title="News", slug="news", section=news_section)


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def recency_world(section, seed=4):
    return build_news_world(
        section, pages=80, readers=16, reads_per_reader=6, newest_only=True, seed=seed
    )


def freshness_ratio(values) -> float:
    return values["freshness_weight"] / values["similarity_weight"]


# --- stored evaluations on the dashboard ------------------------------------------


def test_an_evaluation_is_stored_and_the_dashboard_shows_it(news_section, admin_client):
    world = build_news_world(news_section, pages=60, readers=10, reads_per_reader=5, seed=2)
    call_command("neural_feed_evaluate", "--no-save", stdout=StringIO())
    assert not EvaluationRun.objects.exists()

    call_command("neural_feed_evaluate", "--split", "time", stdout=StringIO())
    run = EvaluationRun.objects.get()
    assert (run.feed, run.kind, run.split, run.k) == ("default", "evaluate", "time", 10)
    assert run.events == run.metrics["feed"]["events"] > 0
    assert run.interactions == world.events and run.started_at <= run.finished_at
    assert set(run.metrics) == {
        "feed",
        "random",
        "most recent",
        "most popular",
        "pure similarity",
        "recent + popular",
    }

    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    row = next(row for row in response.context["evaluations"] if row.slug == "default")
    best = max(
        (name for name in run.metrics if name not in ("feed", "random")),
        key=lambda name: run.metrics[name]["ndcg@10"],
    )
    assert row.run == run and row.headline["baseline"] == best
    assert f"{run.metrics['feed']['ndcg@10']:.4f}" in html
    assert f"{run.metrics[best]['ndcg@10']:.4f}" in html
    assert f"{run.metrics['feed']['hit_rate@10']:.3f}" in html
    assert f"{run.events} (K = 10, time split)" in html
    assert "No evaluation has been stored yet" not in html


def test_the_dashboard_says_how_to_evaluate_when_nothing_is_stored(admin_client, news_feed):
    html = admin_client.get(DASHBOARD).content.decode()
    assert "No evaluation has been stored yet" in html
    assert "python manage.py neural_feed_evaluate --feed news" in html
    assert "Self-tuning is off" in html and "No tuned setting" in html


# --- --tune --apply -------------------------------------------------------------------


@override_settings(WAGTAIL_NEURAL_FEED=TUNING)
def test_tune_apply_saves_into_the_admin_feed_and_the_next_list_uses_it(news_feed, news_section):
    world = recency_world(news_section)
    before = news_feed.to_config()
    out = StringIO()
    cache.delete(VERSION_KEY)
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command(
            "neural_feed_evaluate", "--feed", "news", "--tune", "--apply", "--split", "time",
            "--trials", "12", stdout=out,
        )  # fmt: skip
    assert "Applied to admin feed 'news'" in out.getvalue(), out.getvalue()
    assert cache.get(VERSION_KEY)  # other processes are told once the save commits

    news_feed.refresh_from_db()
    change = TuningChange.objects.get()
    assert (change.source, change.outcome, change.admin_feed) == ("manual", "applied", news_feed)
    assert change.gain > 0 and change.gain == pytest.approx(
        change.test_ndcg_after - change.test_ndcg_before
    )
    assert change.before["freshness_weight"] == before.freshness_weight
    assert change.after["freshness_weight"] == news_feed.freshness_weight
    assert freshness_ratio(change.after) > freshness_ratio(change.before)
    assert change.evaluation.kind == "tune" and change.evaluation.tuning["gain"] == change.gain
    entry = ModelLogEntry.objects.get(action=TUNE_ACTION)
    assert "Freshness weight" in entry.message and "NDCG@10" in entry.message

    # The next list ranks with the new weights.
    config = get_feed_config("news")
    assert config.freshness_weight == news_feed.freshness_weight != before.freshness_weight
    reader = Reader.objects.get(pk=world.reader_ids[0])
    pages = recommend(reader, feed="news", now=world.start + timedelta(days=31))
    assert pages
    for page in pages:
        parts = page.recommendation
        assert parts.feed == "news"
        assert parts.score == pytest.approx(
            config.similarity_weight * parts.similarity
            + config.freshness_weight * parts.freshness
            + config.popularity_weight * parts.popularity,
            abs=1e-4,
        )
    old_scores = [
        before.similarity_weight * page.recommendation.similarity
        + before.freshness_weight * page.recommendation.freshness
        + before.popularity_weight * page.recommendation.popularity
        for page in pages
    ]
    assert any(
        abs(page.recommendation.score - old) > 1e-3
        for page, old in zip(pages, old_scores, strict=True)
    )


def test_tune_apply_for_a_code_feed_prints_the_class_and_changes_nothing(news_section):
    recency_world(news_section, seed=5)
    out = StringIO()
    with override_settings(WAGTAIL_NEURAL_FEED=TUNING):
        call_command(
            "neural_feed_evaluate", "--tune", "--apply", "--split", "time", "--trials", "12",
            stdout=out,
        )  # fmt: skip
    assert "class DefaultFeed(Feed):" in out.getvalue()
    assert not TuningChange.objects.exists()
    assert EvaluationRun.objects.get().kind == "tune"


# --- self-tuning ------------------------------------------------------------------------


def test_autotune_keeps_below_the_margin_applies_above_it_and_respects_a_revert(
    news_feed, news_section, admin_client
):
    recency_world(news_section)
    original = news_feed.to_config()
    with override_settings(WAGTAIL_NEURAL_FEED={**TUNING, "AUTOTUNE": {**AUTOTUNE, "MARGIN": 1}}):
        [kept] = run_autotune()
    assert kept["outcome"] == "kept" and "does not exceed the margin 1.0" in kept["reason"]
    assert kept["gain"] > 0  # a real gain, just not a big enough one
    news_feed.refresh_from_db()
    assert news_feed.to_config() == original

    with (
        override_settings(WAGTAIL_NEURAL_FEED={**TUNING, "AUTOTUNE": AUTOTUNE}),
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        [applied] = run_autotune()
    assert applied["outcome"] == "applied"
    news_feed.refresh_from_db()
    change = TuningChange.objects.get(pk=applied["change_id"])
    assert change.source == "auto" and change.evaluation.kind == "autotune"
    assert news_feed.freshness_weight == change.after["freshness_weight"]
    assert get_feed_config("news").freshness_weight == news_feed.freshness_weight
    assert freshness_ratio(change.after) > freshness_ratio(change.before)

    # Both decisions are on the dashboard; the applied one can be reverted.
    html = admin_client.get(DASHBOARD).content.decode()
    assert "does not exceed the margin" in html and "self-tuning" in html
    revert_url = f"/admin/neural-feed/tuning/{change.pk}/revert/"
    assert revert_url in html
    response = admin_client.post(revert_url)
    assert response.status_code == 302
    news_feed.refresh_from_db()
    assert news_feed.to_config() == original
    assert get_feed_config("news") == original

    # A setting an admin reverted is not applied again.
    with override_settings(WAGTAIL_NEURAL_FEED={**TUNING, "AUTOTUNE": AUTOTUNE}):
        [again] = run_autotune()
    assert again["outcome"] == "kept" and "reverted" in again["reason"]
    news_feed.refresh_from_db()
    assert news_feed.to_config() == original


@pytest.mark.django_db(transaction=True)
def test_the_autotune_task_runs_in_a_celery_worker(celery_dispatch, news_section, site, settings):  # noqa: F811
    """The beat entry's task, sent through a real Redis broker to a real worker."""
    recency_world(news_section)
    feed = AdminFeed.objects.create(site=site, title="News", slug="news", section=news_section)
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        **TUNING,
        "DISPATCH": "auto",
        "AUTOTUNE": AUTOTUNE,
    }
    app = make_app(django_settings.REDIS_URL, settings)
    [entry] = AUTOTUNE_BEAT_SCHEDULE.values()
    assert entry["task"] == autotune_task.name == "wagtail_neural_feed.autotune"
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        app.send_task(entry["task"])
        assert wait_until(lambda: TuningChange.objects.exists(), timeout=300)
    change = TuningChange.objects.get()
    assert (change.source, change.outcome) == ("auto", "applied")
    feed.refresh_from_db()
    assert feed.freshness_weight == change.after["freshness_weight"]
    assert freshness_ratio(change.after) > freshness_ratio(change.before)


def test_autotune_only_reports_on_code_feeds(news_section, caplog):
    recency_world(news_section, seed=5)
    options = {**AUTOTUNE, "FEEDS": ["default"]}
    with (
        override_settings(WAGTAIL_NEURAL_FEED={**TUNING, "AUTOTUNE": options}),
        caplog.at_level(logging.WARNING, logger="wagtail_neural_feed.autotune"),
    ):
        [decision] = run_autotune()
    assert decision["outcome"] == "reported"
    assert "class DefaultFeed(Feed):" in caplog.text
    assert TuningChange.objects.get().outcome == "reported"
    assert not AdminFeed.objects.exists()


def test_autotune_is_off_by_default_and_skips_too_little_data(news_feed, news_section):
    build_news_world(news_section, pages=20, readers=3, reads_per_reader=3)
    assert run_autotune() == []
    out = StringIO()
    call_command("neural_feed_autotune", stdout=out)
    assert "Self-tuning is off" in out.getvalue()
    assert not TuningChange.objects.exists()

    with override_settings(WAGTAIL_NEURAL_FEED={**TUNING, "TUNE_MIN_EVENTS": 400}):
        call_command("neural_feed_autotune", "--force", stdout=out)
    assert "news: skipped" in out.getvalue() and "at least 400 needed" in out.getvalue()
    assert TuningChange.objects.get().outcome == "skipped"


def test_the_autotune_setting_is_checked():
    assert autotune_problems() == []
    bad = {"ENABLED": "yes", "MARGIN": -1, "SINCE_DAYS": 0, "SPLIT": "random", "BOGUS": 1}
    with override_settings(WAGTAIL_NEURAL_FEED={"AUTOTUNE": bad}):
        errors = check_autotune()
    assert {error.id for error in errors} == {"wagtail_neural_feed.E010"}
    text = " ".join(error.msg for error in errors)
    for part in ("'BOGUS'", "ENABLED", "MARGIN", "SINCE_DAYS", "SPLIT"):
        assert part in text
    with override_settings(WAGTAIL_NEURAL_FEED={"AUTOTUNE": ["on"]}):
        assert "must be a dict" in check_autotune()[0].msg
        with pytest.raises(CommandError, match="must be a dict"):
            call_command("neural_feed_autotune", stdout=StringIO())
    # A partial dict keeps the other defaults.
    with override_settings(WAGTAIL_NEURAL_FEED={"AUTOTUNE": {"ENABLED": True}}):
        assert check_autotune() == []


# --- revert: permission, CSRF, refusals ------------------------------------------------


def applied_change(feed: AdminFeed) -> TuningChange:
    """A change as apply_tuning stores it, without running a tuning."""
    before = tuned_values(feed.to_config())
    after = {**before, "freshness_weight": 2.0, "freshness_half_life_days": 1.0}
    with TestCase.captureOnCommitCallbacks(execute=True):
        save_feed_values(feed, after)
    return TuningChange.objects.create(
        feed=feed.slug, admin_feed=feed, source="auto", outcome="applied",
        before=before, after=after, gain=0.05, test_ndcg_before=0.1, test_ndcg_after=0.15,
        validation_events=300, test_events=300,
    )  # fmt: skip


def test_revert_needs_the_feed_change_permission(client, news_feed):
    created = (news_feed.freshness_weight, news_feed.freshness_half_life_days)
    change = applied_change(news_feed)
    url = f"/admin/neural-feed/tuning/{change.pk}/revert/"
    client.force_login(editor("watcher", "view_dashboard"))
    assert url not in client.get(DASHBOARD).content.decode()  # no button without the right
    assert client.post(url).status_code == 403
    news_feed.refresh_from_db()
    assert news_feed.freshness_weight == 2.0

    client.force_login(editor("tuner", "view_dashboard", "change_adminfeed"))
    assert client.get(url).status_code == 405  # POST only
    assert url in client.get(DASHBOARD).content.decode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    news_feed.refresh_from_db()
    assert (news_feed.freshness_weight, news_feed.freshness_half_life_days) == created
    change.refresh_from_db()
    assert change.reverted_at is not None and change.reverted_by.username == "tuner"
    entry = ModelLogEntry.objects.get(action=REVERT_ACTION)
    assert entry.user.username == "tuner"
    assert f"Freshness weight: 2.0 → {created[0]}" in entry.message
    html = client.get(DASHBOARD).content.decode()
    assert "Reverted" in html and url not in html

    # Twice is refused, with a message, and changes nothing.
    response = client.post(url, follow=True)
    assert "cannot be reverted" in response.content.decode()


def test_revert_needs_a_csrf_token(news_feed):
    change = applied_change(news_feed)
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    response = client.post(f"/admin/neural-feed/tuning/{change.pk}/revert/")
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.reverted_at is None


def test_revert_refuses_when_the_feed_was_edited_since(admin_client, news_feed):
    change = applied_change(news_feed)
    save_feed_values(news_feed, {"freshness_weight": 3.0})
    html = admin_client.get(DASHBOARD).content.decode()
    assert "Feed edited since" in html and f"tuning/{change.pk}/revert/" not in html
    response = admin_client.post(f"/admin/neural-feed/tuning/{change.pk}/revert/", follow=True)
    assert "was edited after this change" in response.content.decode()
    news_feed.refresh_from_db()
    assert news_feed.freshness_weight == 3.0
    assert admin_client.post("/admin/neural-feed/tuning/999999/revert/").status_code == 404
