"""A worker SIGKILLed while holding a message: Redis would redeliver it only after the
visibility timeout (an hour by default); the scheduled sweep repairs it first
(issue 12, item 3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import redis
from celery import Celery
from django.conf import settings as django_settings
from django.db import connection

from tests.helpers import wait_until
from wagtail_neural_feed import broker
from wagtail_neural_feed.encoders import HashingEncoder
from wagtail_neural_feed.models import EmbeddingStatus, PageEmbedding
from wagtail_neural_feed.sweep import sweep
from wagtail_neural_feed.tasks import BEAT_SCHEDULE


class VerySlowEncoder(HashingEncoder):
    """Still encoding when the test kills the worker."""

    def encode(self, texts):
        time.sleep(120)
        return super().encode(texts)


WORKER_ARGS = (
    "worker",
    "-P",
    "solo",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
    "-Q",
)


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}?host={db['HOST']}"


@pytest.fixture
def queue_name(settings):
    name = f"neural-feed-killed-{uuid.uuid4().hex[:8]}"
    app = Celery(
        "neural_feed_killed", broker=django_settings.REDIS_URL, fixups=[], set_as_current=False
    )
    app.conf.update(task_default_queue=name, broker_connection_retry_on_startup=False)
    import wagtail_neural_feed.tasks  # noqa: F401

    app.finalize()
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "DISPATCH": "auto",
        "CELERY_APP": app,
    }
    broker.reset_circuit()
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.delete("unacked", "unacked_index")  # what earlier workers left
    yield name
    broker.forget_app()
    client.delete(name, "unacked", "unacked_index")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_holding_a_message_is_repaired_by_the_sweep(queue_name, make_article):
    from wagtail_neural_feed.dispatch import wait_for_jobs

    page = make_article("Published just before the worker died")
    assert wait_for_jobs(10)
    assert PageEmbedding.objects.get(page_id=page.pk).status == EmbeddingStatus.PENDING
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    assert client.llen(queue_name) == 1  # the job waits in the broker
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.worker_app", *WORKER_ARGS, queue_name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The worker took the message (acks_late: unacknowledged while it encodes)...
        assert wait_until(
            lambda: client.hlen("unacked") == 1 and client.llen(queue_name) == 0, timeout=60
        )
    finally:
        worker.send_signal(signal.SIGKILL)  # ...and dies holding it
        worker.wait()
    assert client.hlen("unacked") == 1  # back in the queue only after visibility_timeout
    assert PageEmbedding.objects.get(page_id=page.pk).status == EmbeddingStatus.PENDING
    # What Celery beat runs every few minutes (BEAT_SCHEDULE) repairs it.
    assert BEAT_SCHEDULE["wagtail-neural-feed-sweep"]["task"] == "wagtail_neural_feed.sweep"
    assert sweep()["embedded"] == 1
    assert PageEmbedding.objects.get(page_id=page.pk).status == EmbeddingStatus.READY
