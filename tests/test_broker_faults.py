"""A broker that accepts connections and never answers, and the Celery app seen from threads."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from celery import Celery, _state
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings

from tests.faults import SilentBroker
from tests.helpers import axis, set_embedding, wait_until
from wagtail_neural_feed import broker, dispatch
from wagtail_neural_feed.exceptions import NeuralFeedConfigurationError
from wagtail_neural_feed.models import EmbeddingStatus, Interaction, PageEmbedding, Reader
from wagtail_neural_feed.tracking import page_token, record_interaction

#: Named by dotted path in a test; not current in any thread.
PATH_APP = Celery(
    "neural_feed_path_app", broker="redis://127.0.0.1:6390/0", set_as_current=False, fixups=[]
)


def project_app(broker_url: str, *, set_default: bool = True) -> Celery:
    # No Django fixup: it would make the app the default one for every thread
    # (as it does when DJANGO_SETTINGS_MODULE is set before the app is made).
    app = Celery("neural_feed_project", broker=broker_url, fixups=[])
    app.conf.update(
        broker_connection_retry_on_startup=False,
        worker_hijack_root_logger=False,
        task_default_queue=f"neural-feed-tests-{uuid.uuid4().hex[:8]}",
    )
    import wagtail_neural_feed.tasks  # noqa: F401  (the shared tasks bind to this app)

    if set_default:
        app.set_default()
    app.finalize()
    return app


@pytest.fixture
def celery_state(settings):
    broker.reset_circuit()
    current, default = _state._tls.current_app, _state.default_app
    yield settings
    # Apps made current here must not be found by later tests.
    _state._tls.current_app, _state.default_app = current, default
    broker.reset_circuit()
    broker.forget_app()


@pytest.fixture
def celery_auto(celery_state):
    celery_state.WAGTAIL_NEURAL_FEED = {**celery_state.WAGTAIL_NEURAL_FEED, "DISPATCH": "auto"}
    return celery_state


@pytest.fixture
def silent_broker(celery_auto):
    server = SilentBroker()
    app = project_app(server.url, set_default=False)
    celery_auto.WAGTAIL_NEURAL_FEED = {**celery_auto.WAGTAIL_NEURAL_FEED, "CELERY_APP": app}
    yield server
    server.close()


@pytest.mark.django_db(transaction=True)
def test_publishing_does_not_wait_on_a_silent_broker_and_nothing_is_lost(
    silent_broker, make_article, wait_for_background
):
    started = time.monotonic()
    page = make_article("Published while the broker hangs")
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    wait_for_background(20)  # the publisher gives up on the broker; the thread embeds
    assert PageEmbedding.objects.get(page_id=page.pk).status == EmbeddingStatus.READY
    assert silent_broker.accepted  # the broker was really tried
    assert not broker.broker_available()


@pytest.mark.django_db(transaction=True)
def test_beacons_answer_at_once_with_a_silent_broker(
    silent_broker, make_article, client, wait_for_background
):
    page = make_article("Read while the broker hangs")
    wait_for_background(20)
    broker.reset_circuit()  # the broker gets a fresh chance for the beacons
    times = []
    for kind in ("view", "like"):
        started = time.monotonic()
        response = client.post(
            "/neural-feed/interactions/",
            {"page": page.pk, "kind": kind, "token": page_token(page.pk)},
            content_type="application/json",
        )
        times.append(time.monotonic() - started)
        assert response.status_code == 201
    assert max(times) < 1.0, times
    wait_for_background(20)
    assert Interaction.objects.count() == 2
    assert not Reader.objects.get().profile_pending  # the fallback thread updated it


def test_publish_gives_up_on_a_silent_broker(celery_auto, silent_broker):
    """The publisher thread itself is bounded by socket timeouts, not by the broker."""
    started = time.monotonic()
    assert broker.publish("sweep", (), {}) is False
    assert time.monotonic() - started < silent_broker.hold / 2
    assert not broker.broker_available()


def test_a_non_main_thread_resolves_the_project_app(celery_auto, monkeypatch):
    # The project's celery.py made its app current in the main thread only
    # (no set_default(), no Django fixup to call it).
    monkeypatch.setattr(_state, "default_app", None)
    monkeypatch.setattr(broker, "_startup_app", None)
    app = project_app(django_settings.REDIS_URL, set_default=False)
    broker.remember_current_app()  # what Django's startup does when it imports the package
    seen: dict = {}

    def in_thread() -> None:
        from celery import current_app

        seen["current_app"] = current_app._get_current_object()
        seen["resolved"] = broker.celery_app()
        seen["backend"] = dispatch.backend_name()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen["current_app"] is not app  # what "auto" used to rely on
    assert seen["resolved"] is app
    assert seen["backend"] == "celery"


@pytest.mark.django_db(transaction=True)
def test_jobs_from_threads_reach_the_project_workers(celery_state, monkeypatch, make_article):

    page = make_article("Liked from a thread")  # inline
    set_embedding(page, axis(3))
    celery_state.WAGTAIL_NEURAL_FEED = {**celery_state.WAGTAIL_NEURAL_FEED, "DISPATCH": "auto"}
    monkeypatch.setattr(_state, "default_app", None)
    monkeypatch.setattr(broker, "_startup_app", None)
    app = project_app(django_settings.REDIS_URL, set_default=False)
    broker.remember_current_app()
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):

        def like() -> None:
            from django.db import connection

            record_interaction(reader, page, "like")
            connection.close()

        thread = threading.Thread(target=like)
        thread.start()
        thread.join()
        assert wait_until(lambda: not Reader.objects.get(pk=reader.pk).profile_pending)
    assert dispatch.background_worker()._queue.unfinished_tasks == 0
    assert broker.broker_available()  # the worker did it, not the fallback


def test_celery_app_setting_by_dotted_path(celery_auto):
    celery_auto.WAGTAIL_NEURAL_FEED = {
        **celery_auto.WAGTAIL_NEURAL_FEED,
        "CELERY_APP": "tests.test_broker_faults.PATH_APP",
    }
    assert broker.celery_app() is PATH_APP
    celery_auto.WAGTAIL_NEURAL_FEED = {
        **celery_auto.WAGTAIL_NEURAL_FEED,
        "CELERY_APP": "tests.test_broker_faults.SilentBroker",
    }
    with pytest.raises(NeuralFeedConfigurationError, match="CELERY_APP"):
        broker.celery_app()
