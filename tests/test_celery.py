"""Profiles through a real Celery worker on a real Redis broker, and what happens without one."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings

from tests.helpers import axis, set_embedding, wait_until
from wagtail_neural_feed import broker, dispatch
from wagtail_neural_feed.dispatch import background_worker
from wagtail_neural_feed.models import Interaction, Reader, ReaderProfile
from wagtail_neural_feed.tracking import record_interaction

DEAD_BROKER = "redis://127.0.0.1:6390/0"  # nothing listens here


def make_app(broker_url: str, settings=None) -> Celery:
    app = Celery("neural_feed_tests", broker=broker_url)
    app.conf.update(
        broker_connection_retry_on_startup=False,
        worker_hijack_root_logger=False,
        task_default_queue=f"neural-feed-tests-{uuid.uuid4().hex[:8]}",
    )
    import wagtail_neural_feed.tasks  # noqa: F401  (the shared tasks bind to this app)

    app.set_current()
    app.set_default()
    app.finalize()
    if settings is not None:  # name the app, as a project does with CELERY_APP
        settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "CELERY_APP": app}
    broker.forget_app()
    return app


@pytest.fixture
def celery_dispatch(settings):
    # An app without a broker until the test makes one: apps left by earlier
    # tests must not be discovered.
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "DISPATCH": "auto",
        "CELERY_APP": Celery("idle"),
    }
    broker.reset_circuit()
    yield
    broker.reset_circuit()
    idle = Celery("idle")  # later tests see no broker
    idle.set_current()
    idle.set_default()
    broker.forget_app()


@pytest.fixture
def liked_page(make_article, wait_for_background):
    page = make_article("Through the worker")
    wait_for_background()  # the publish's own embedding job, before we set ours
    set_embedding(page, axis(4))
    return page


def profile_ready(reader) -> bool:
    profile = ReaderProfile.objects.filter(reader=reader, feed="default").first()
    return profile is not None and profile.vector is not None


@pytest.mark.django_db(transaction=True)
def test_an_interaction_updates_the_profile_through_the_worker(
    celery_dispatch, liked_page, settings
):
    app = make_app(django_settings.REDIS_URL, settings)
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert dispatch.backend_name() == "celery"
        record_interaction(reader, liked_page, "like")  # autocommit: dispatched at once
        assert wait_until(lambda: profile_ready(reader))
    assert background_worker()._queue.unfinished_tasks == 0  # not the fallback
    assert broker.broker_available()
    assert np.allclose(ReaderProfile.objects.get(reader=reader).vector, axis(4), atol=1e-5)
    assert not Reader.objects.get(pk=reader.pk).profile_pending


@pytest.mark.django_db(transaction=True)
def test_broker_down_requests_still_answer_fast_and_the_fallback_updates(
    celery_dispatch, liked_page, client, wait_for_background, settings
):
    from wagtail_neural_feed.tracking import page_token

    make_app(DEAD_BROKER, settings)
    started = time.monotonic()
    response = client.post(
        "/neural-feed/interactions/",
        {"page": liked_page.pk, "kind": "like", "token": page_token(liked_page.pk)},
        content_type="application/json",
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 201
    assert elapsed < 1.0, elapsed
    assert Interaction.objects.count() == 1
    wait_for_background()
    reader = Reader.objects.get()
    assert profile_ready(reader)
    # The broker is not tried again for a while: the next job goes to the thread.
    assert not broker.broker_available()


@pytest.mark.django_db(transaction=True)
def test_a_lost_task_is_repaired_by_the_sweep(celery_dispatch, liked_page, settings):
    """The task reaches the broker, but no worker ever runs it (a worker killed
    before acknowledging, its message then lost): the sweep repairs the profile."""
    from django.core.management import call_command

    app = make_app(django_settings.REDIS_URL, settings)
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    record_interaction(reader, liked_page, "like")
    assert dispatch.publisher().wait(10)  # sent from the publisher thread
    assert broker.broker_available()
    assert Reader.objects.get(pk=reader.pk).profile_pending
    assert not profile_ready(reader)
    with app.connection_for_write() as connection:  # the message is lost
        connection.default_channel.queue_purge(app.conf.task_default_queue)
    # Another interaction in the same burst does not queue a second job...
    record_interaction(reader, liked_page, "view")
    assert not profile_ready(reader)
    # ...and the sweep finds the pending reader and brings the profile up to date.
    call_command("neural_feed_sweep", stdout=__import__("io").StringIO())
    profile = ReaderProfile.objects.get(reader=reader)
    assert profile.interaction_count == 2
    assert not Reader.objects.get(pk=reader.pk).profile_pending
