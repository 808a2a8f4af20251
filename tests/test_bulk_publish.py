"""A burst of publishes reaches the encoder as a few batches, not one job per page
(issue 12, item 9)."""

from __future__ import annotations

import threading

import pytest

from tests.helpers import publish
from wagtail_neural_feed.dispatch import background_worker, wait_for_jobs
from wagtail_neural_feed.encoders import HashingEncoder
from wagtail_neural_feed.jobs import JOBS
from wagtail_neural_feed.models import EmbeddingStatus, PageEmbedding

GATE = threading.Event()


class BatchCountingEncoder(HashingEncoder):
    """Records the size of every batch it is given."""

    model_name = "batch-counting"
    batches: list[int] = []

    def encode(self, texts):
        BatchCountingEncoder.batches.append(len(texts))
        return super().encode(texts)


def hold_the_thread() -> None:
    GATE.wait(60)


@pytest.fixture
def busy_thread(settings, monkeypatch):
    """The background thread is busy with another job while the editor publishes."""
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "DISPATCH": "thread",
        "ENCODER": "tests.test_bulk_publish.BatchCountingEncoder",
        "EMBED_BATCH_SIZE": 64,
    }
    monkeypatch.setitem(JOBS, "test_hold", "tests.test_bulk_publish.hold_the_thread")
    GATE.clear()
    background_worker().submit("test_hold", (), {})
    BatchCountingEncoder.batches = []
    yield
    GATE.set()
    wait_for_jobs()


@pytest.mark.django_db(transaction=True)
def test_a_hundred_publishes_become_two_encoder_batches(busy_thread, home):
    from tests.factories import ArticlePageFactory

    pages = []
    for number in range(100):
        page = ArticlePageFactory.build(title=f"Bulk {number}", live=False)
        home.add_child(instance=page)
        pages.append(publish(page))
    assert background_worker()._queue.qsize() == 1  # one embed job waits, not 100
    GATE.set()
    assert wait_for_jobs(60)
    assert BatchCountingEncoder.batches == [64, 36]
    ready = PageEmbedding.objects.filter(page_id__in=[p.pk for p in pages])
    assert ready.filter(status=EmbeddingStatus.READY).count() == 100


@pytest.mark.django_db(transaction=True)
def test_a_publish_after_the_job_started_gets_its_own_job(busy_thread, home):
    from tests.factories import ArticlePageFactory

    first = ArticlePageFactory.build(title="Before", live=False)
    home.add_child(instance=first)
    publish(first)
    GATE.set()
    assert wait_for_jobs(30)
    second = ArticlePageFactory.build(title="After", live=False)
    home.add_child(instance=second)
    publish(second)
    assert wait_for_jobs(30)
    assert PageEmbedding.objects.filter(status=EmbeddingStatus.READY).count() == 2
