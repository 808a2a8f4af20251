"""Operations: how far behind background work is, the sweep's schedule (issue 12, item 3)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from celery import Celery
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from wagtail_neural_feed import broker
from wagtail_neural_feed.checks import check_sweep_schedule
from wagtail_neural_feed.models import EmbeddingStatus, Interaction, PageEmbedding, Reader
from wagtail_neural_feed.status import LAST_SWEEP_KEY
from wagtail_neural_feed.tasks import BEAT_SCHEDULE


def status(*args) -> dict:
    out = io.StringIO()
    call_command("neural_feed_status", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture(autouse=True)
def no_sweep_yet():
    cache.delete(LAST_SWEEP_KEY)
    yield
    cache.delete(LAST_SWEEP_KEY)


def test_status_reports_the_oldest_waiting_jobs_and_fails_past_the_threshold(make_article):
    page = make_article("Left pending by a dead worker")
    two_hours_ago = timezone.now() - timedelta(hours=2)
    PageEmbedding.objects.filter(page_id=page.pk).update(
        status=EmbeddingStatus.PENDING, updated_at=two_hours_ago
    )
    reader = Reader.objects.create(visitor_id=uuid.uuid4(), profile_pending=True)
    Interaction.objects.create(
        reader=reader, page=page, kind="view", weight=1.0, created_at=two_hours_ago
    )
    report = status("--max-age", "100000")
    assert report["pending_embeddings"] == 1
    assert report["oldest_pending_embedding_age"] == pytest.approx(7200, abs=60)
    assert report["pending_profiles"] == 1
    assert report["oldest_pending_profile_age"] == pytest.approx(7200, abs=60)
    assert report["last_sweep"] is None
    with pytest.raises(CommandError, match="oldest pending embedding age"):
        status("--max-age", "3600")
    with pytest.raises(CommandError, match="no sweep"):
        status("--max-age", "100000", "--max-sweep-age", "600")
    # The sweep repairs both, and says when it ran.
    call_command("neural_feed_sweep", stdout=io.StringIO())
    report = status("--max-age", "60", "--max-sweep-age", "600")
    assert report["pending_embeddings"] == 0 and report["pending_profiles"] == 0
    assert report["oldest_pending_embedding_age"] is None
    assert report["last_sweep_age"] < 600


def test_status_in_words(db):
    out = io.StringIO()
    call_command("neural_feed_status", stdout=out)
    assert "pending embeddings: 0" in out.getvalue()
    assert "last sweep: -" in out.getvalue()


@pytest.fixture
def celery_app_setting(settings):
    app = Celery(
        "neural_feed_checks", broker="redis://127.0.0.1:6390/0", set_as_current=False, fixups=[]
    )
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "DISPATCH": "auto",
        "CELERY_APP": app,
    }
    yield app
    broker.forget_app()


def test_a_celery_site_without_the_sweep_in_beat_is_warned(celery_app_setting):
    assert [w.id for w in check_sweep_schedule()] == ["wagtail_neural_feed.W005"]
    celery_app_setting.conf.beat_schedule = dict(BEAT_SCHEDULE)
    assert check_sweep_schedule() == []


def test_no_warning_without_celery(settings):
    assert settings.WAGTAIL_NEURAL_FEED["DISPATCH"] == "inline"
    assert check_sweep_schedule() == []


def test_a_celery_app_setting_that_is_not_an_app_is_an_error(settings):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "DISPATCH": "auto",
        "CELERY_APP": "wagtail_neural_feed.tasks.BEAT_SCHEDULE",
    }
    assert [e.id for e in check_sweep_schedule()] == ["wagtail_neural_feed.E009"]
    broker.forget_app()
